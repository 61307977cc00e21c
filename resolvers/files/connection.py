"""File listings as connections, with signed cursors for every edge, paged both ways.

Every record of a page comes with its store position (the ItemStore names each item), so
an edge's cursor is a signed *resume point* naming exactly that record:

- ``(position, 0, -)``: the record at a store position. ``after`` it resumes right after
  the record, ``before`` it reads the listing in the other direction from the same
  position, right before the record. Both are exact — no gaps, no repeats, whatever is
  inserted or deleted in between — and cost the same store calls: one listing.
- ``(start, k, anchor)``: "the k-th record after ``start``, which was ``anchor``", the
  form edges inside a page had before records came with positions. Such a cursor is still
  honoured: resuming from it lists those k records again (one more domain call) to find
  the anchor's position; when the anchor is gone it counts k records instead.

Every cursor is signed (domain.cursor_signer) for one query, viewer and filter: a cursor
from elsewhere, or an altered one, is refused with BAD_USER_INPUT.
"""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import strawberry
from strawberry import Info

from domain.cursor_signer import CursorSigner
from domain.errors import InvalidInputError
from domain.files import FilePage
from domain.paging import PAGE_SIZE_MAX, check_page_size
from resolvers.context import Context
from resolvers.files.inputs import or_none
from resolvers.files.types import FileType
from resolvers.limits import DEFAULT_PAGE_SIZE
from resolvers.pagination import PageInfo


def _edge_cursor(root: "FileEdge") -> str:
    return root.signed()


@strawberry.type
class FileEdge:
    """A file in a listing and the cursor that resumes right after it (Relay's edge)."""

    # Signed only when asked for: a page of 20 edges is 20 HMACs, and most queries select
    # the nodes alone (the page info signs the first and last edges' own).
    cursor: str = strawberry.field(resolver=_edge_cursor)
    node: FileType
    signed: strawberry.Private[Callable[[], str]]


@strawberry.type
class FileConnection:
    """A page of a file listing, as Relay's Cursor Connections spec shapes it."""

    edges: list[FileEdge]
    page_info: PageInfo


# (size, store position or None for the start, backward) -> a page of what the listing
# shows: forward the records after the position, backward the ones before it, nearest first.
ListPage = Callable[[int, str | None, bool], Awaitable[FilePage]]


@dataclass(frozen=True, slots=True)
class CursorScope:
    """What a cursor is valid for: the listing, the viewer and the filter fingerprint."""

    query: str
    viewer_id: str
    filter_hash: str = ""


@dataclass(frozen=True, slots=True)
class _Resume:
    """Where a cursor resumes a listing: a store position, and the records to pass over
    after it when the page stopped inside a store page."""

    after: str | None  # a store position; None is the start of the listing
    skip: int = 0  # records to pass over after it
    anchor: str | None = None  # the id of the last record passed over


@dataclass(frozen=True, slots=True)
class PageArgs:
    """A connection's arguments as the Relay Cursor Connections spec names them."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    @classmethod
    def of(cls, first: object, after: object, last: object, before: object) -> "PageArgs":
        """From resolver arguments, where an argument left out is UNSET."""
        return cls(or_none(first), or_none(after), or_none(last), or_none(before))


def _direction(args: PageArgs) -> tuple[int, str | None, bool]:
    """(page size, cursor, backward). One direction per request: ``first``/``after`` page
    forward, ``last``/``before`` backward; mixing them is refused, never guessed."""
    forward = args.first is not None or args.after is not None
    backward = args.last is not None or args.before is not None
    if args.first is not None and args.last is not None:
        raise InvalidInputError("Pass first or last, not both")
    if forward and backward:
        raise InvalidInputError(
            "first/after page forward and last/before backward: use one pair, not both"
        )
    if backward:
        size = DEFAULT_PAGE_SIZE if args.last is None else args.last
        return check_page_size(size, name="last"), args.before, True
    size = DEFAULT_PAGE_SIZE if args.first is None else args.first
    return check_page_size(size, name="first"), args.after, False


async def file_connection(
    info: Info[Context, Any],
    list_page: ListPage,
    scope: CursorScope,
    args: PageArgs,
    *,
    hides_records: bool = False,
) -> FileConnection:
    """One page of a file listing, forward (``first``/``after``) or backward
    (``last``/``before``). ``hides_records``: the listing may hold records the viewer
    cannot read (another user's files); then ``hasNextPage``/``hasPreviousPage`` look one
    readable record ahead, since "more in the store" would tell that unreadable files
    follow."""
    size, cursor, backward = _direction(args)
    signer = info.context.services.cursors
    resume = _Resume(None) if cursor is None else _read(signer, scope, cursor)
    start, more = await _position_of(list_page, resume)
    if not more:
        return FileConnection(edges=[], page_info=PageInfo(has_next_page=False))
    page = await list_page(size, start, backward)
    info.context.loaders.remember_files(page.records)
    edges = [
        FileEdge(signed=_signing(signer, scope, position), node=FileType.from_domain(record))
        for record, position in zip(page.records, page.positions, strict=True)
    ]
    beyond = page.next_position is not None
    if beyond and hides_records and edges:
        beyond = bool((await list_page(1, page.next_position, backward)).records)
    # A sparse filter can yield an empty page that still has more beyond it.
    resume_from = None
    if not edges and page.next_position is not None:
        resume_from = _write(signer, scope, _Resume(page.next_position))
    if backward:
        edges.reverse()
    first_cursor = edges[0].signed if edges else _known(resume_from if backward else None)
    last_cursor = edges[-1].signed if edges else _known(None if backward else resume_from)
    # The spec lets a server answer false for the direction it did not page in when it
    # cannot tell cheaply; telling would cost another store call.
    return FileConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=beyond and not backward,
            has_previous_page=beyond and backward,
            end=last_cursor,
            start=first_cursor,
        ),
    )


async def _position_of(list_page: ListPage, resume: _Resume) -> tuple[str | None, bool]:
    """The store position a resume point names, and whether the listing goes on there."""
    if resume.skip == 0:
        return resume.after, True
    passed = await list_page(resume.skip, resume.after, False)
    if not passed.records:
        return passed.next_position, passed.next_position is not None
    ids = [record.id for record in passed.records]
    at = ids.index(resume.anchor) if resume.anchor in ids else len(ids) - 1
    return passed.positions[at], True


def _known(cursor: str | None) -> Callable[[], str | None]:
    return lambda: cursor


def _signing(signer: CursorSigner, scope: CursorScope, position: str) -> Callable[[], str]:
    return lambda: _write(signer, scope, _Resume(position))


def _write(signer: CursorSigner, scope: CursorScope, resume: _Resume) -> str:
    position = json.dumps([resume.after, resume.skip, resume.anchor], separators=(",", ":"))
    return signer.sign(
        position, query=scope.query, viewer_id=scope.viewer_id, filter_hash=scope.filter_hash
    )


def _read(signer: CursorSigner, scope: CursorScope, cursor: str) -> _Resume:
    position = signer.verify(
        cursor, query=scope.query, viewer_id=scope.viewer_id, filter_hash=scope.filter_hash
    )
    # The signature vouches for the content; the checks only guard against our own bugs.
    try:
        after, skip, anchor = json.loads(position)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError("Invalid cursor") from exc
    if (
        not (after is None or isinstance(after, str))
        or isinstance(skip, bool)
        or not isinstance(skip, int)
        or not 0 <= skip <= PAGE_SIZE_MAX
        or not (anchor is None or isinstance(anchor, str))
    ):
        raise InvalidInputError("Invalid cursor")
    return _Resume(after, skip, anchor)
