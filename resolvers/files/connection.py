"""File listings as connections, with signed cursors for every edge.

The domain pages by store positions and hands out only the position after a page's last
record (the ItemStore cannot name a position inside a page without one store call per
item). So a client cursor is a signed *resume point*:

- ``(position, 0, -)``: resume exactly at a store position. The endCursor of a page with
  more to come is always one of these, so paging with endCursor is exact: no gaps, no
  repeats, whatever happens to the data in between.
- ``(start, k, anchor)``: the cursor of an edge inside a page — "the k-th record after
  ``start``, which was ``anchor``". Resuming from it lists those k records again (one
  more domain call) to learn the store position after them; if records before the anchor
  went away meanwhile, the anchor is found earlier and the position is still exact. Only
  when the anchor itself is gone (deleted, or no longer matching) does it fall back to
  counting k records.

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
from resolvers.files.types import FileType
from resolvers.pagination import PageInfo


@strawberry.type
class FileEdge:
    cursor: str
    node: FileType


@strawberry.type
class FileConnection:
    edges: list[FileEdge]
    page_info: PageInfo


# (first, store position or None for the start) -> a page of what the listing shows.
ListPage = Callable[[int, str | None], Awaitable[FilePage]]


@dataclass(frozen=True, slots=True)
class CursorScope:
    """What a cursor is valid for: the listing, the viewer and the filter fingerprint."""

    query: str
    viewer_id: str
    filter_hash: str = ""


@dataclass(frozen=True, slots=True)
class _Resume:
    after: str | None  # a store position; None is the start of the listing
    skip: int = 0  # records to pass over after it
    anchor: str | None = None  # the id of the last record passed over


async def file_connection(
    info: Info[Context, Any],
    list_page: ListPage,
    scope: CursorScope,
    *,
    first: int | None,
    after: str | None,
    hides_records: bool = False,
) -> FileConnection:
    """One page of a file listing. ``hides_records``: the listing may hold records the
    viewer cannot read (another user's files); then ``hasNextPage`` looks one readable
    record ahead, since "more in the store" would tell that unreadable files follow."""
    first = check_page_size(first)
    signer = info.context.services.cursors
    resume = _Resume(None) if after is None else _read(signer, scope, after)
    start, more = await _position_of(list_page, resume)
    if not more:
        return FileConnection(edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None))
    page = await list_page(first, start)
    info.context.loaders.remember_files(page.records)
    edges = [
        FileEdge(cursor=_write(signer, scope, resume_point), node=FileType.from_domain(record))
        for record, resume_point in zip(page.records, _edge_resume_points(page, start), strict=True)
    ]
    end_cursor = edges[-1].cursor if edges else None
    if end_cursor is None and page.next_position is not None:
        # A sparse filter can yield an empty page that still has more after it.
        end_cursor = _write(signer, scope, _Resume(page.next_position))
    has_next = page.next_position is not None
    if has_next and hides_records and edges:
        has_next = bool((await list_page(1, page.next_position)).records)
    return FileConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            end_cursor=end_cursor,
            start_cursor=edges[0].cursor if edges else None,
        ),
    )


def _edge_resume_points(page: FilePage, start: str | None) -> list[_Resume]:
    points = [
        _Resume(start, skip=index + 1, anchor=record.id)
        for index, record in enumerate(page.records)
    ]
    if points and page.next_position is not None:
        points[-1] = _Resume(page.next_position)
    return points


async def _position_of(list_page: ListPage, resume: _Resume) -> tuple[str | None, bool]:
    """The store position a resume point stands for, and whether anything can follow it."""
    if resume.skip == 0:
        return resume.after, True
    passed = await list_page(resume.skip, resume.after)
    ids = [record.id for record in passed.records]
    if resume.anchor in ids and ids.index(resume.anchor) < len(ids) - 1:
        passed = await list_page(ids.index(resume.anchor) + 1, resume.after)
    return passed.next_position, passed.next_position is not None


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
