"""``Subscription.fileEvents``: committed file writes, as each subscriber may see them.

Every event is checked when it is delivered (domain/access.py ``file_event_delivery``)
against the file as it is then, read through fresh loaders: an unshare committed before
delivery wins over the event it follows, and ``file`` resolves through the same File type
and loaders as queries (``downloadUrl`` is freshly signed for this viewer).
"""

import enum
from collections import OrderedDict
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry
from strawberry import Info

from domain.access import EventDelivery, file_event_delivery, follows_file
from domain.errors import NotFoundError
from domain.events import FileEvent, FileEventInterest, FileEventKind
from domain.files import NOT_FOUND_MESSAGE
from domain.ids import to_global_id
from domain.models import FileRecord, Principal
from resolvers.context import Context
from resolvers.files.inputs import or_none
from resolvers.files.queries import file_id_of
from resolvers.files.types import FILE_TYPE, FileType
from resolvers.permissions import IsAuthenticated

# Per subscription, the last version delivered of this many files (commit order per file).
_VERSIONS_REMEMBERED = 1024


@strawberry.enum(name="FileEventKind")
class FileEventKindEnum(enum.Enum):
    CREATED = "CREATED"
    READY = "READY"
    UPDATED = "UPDATED"
    DELETED = "DELETED"
    SHARED = "SHARED"
    UNSHARED = "UNSHARED"

    @classmethod
    def from_domain(cls, kind: FileEventKind) -> "FileEventKindEnum":
        return cls(kind.value)


@strawberry.type(name="FileEvent")
class FileEventType:
    """A file event as a subscriber receives it, the file shown as the viewer may see it
    now."""

    kind: FileEventKindEnum
    file_id: strawberry.ID
    file: FileType | None = strawberry.field(
        description="The file as the viewer may see it now; null for DELETED and UNSHARED."
    )
    version: int
    at: datetime


class _Order:
    """Drops an event older than one already delivered for its file: publishing happens
    after the commit, so two writers may publish in the other order than they committed."""

    def __init__(self) -> None:
        self._last: OrderedDict[str, int] = OrderedDict()

    def is_new(self, event: FileEvent) -> bool:
        last = self._last.get(event.file_id)
        if last is not None and event.version <= last:
            return False
        self._last[event.file_id] = event.version
        self._last.move_to_end(event.file_id)
        if len(self._last) > _VERSIONS_REMEMBERED:
            self._last.popitem(last=False)
        return True


async def _current(info: Info[Context, Any], file_id: str) -> FileRecord | None:
    info.context.renew_loaders()
    return await info.context.loaders.file_by_id.load(file_id)


def _as_type(
    event: FileEvent, delivery: EventDelivery, current: FileRecord | None
) -> FileEventType:
    shown = current if delivery is EventDelivery.WITH_FILE else None
    return FileEventType(
        kind=FileEventKindEnum.from_domain(event.kind),
        file_id=strawberry.ID(to_global_id(FILE_TYPE, event.file_id)),
        file=FileType.from_domain(shown) if shown is not None else None,
        version=event.version,
        at=event.at,
    )


def _still_followed(viewer: Principal, current: FileRecord | None) -> bool:
    return current is not None and follows_file(viewer, current, one_file=True)


@strawberry.type
class FileSubscriptions:
    """The file event subscriptions, merged into the schema's Subscription type."""

    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description=(
            "Events for files the viewer may read: their own and those shared with them "
            "(admins: all). With fileId: that one file, if readable (PUBLIC included)."
        ),
    )
    async def file_events(
        self, info: Info[Context, Any], file_id: strawberry.ID | None = strawberry.UNSET
    ) -> AsyncGenerator[FileEventType, None]:
        # A coroutine that returns the stream, so a refusal (an unreadable file id) is
        # raised before the subscription starts: the protocol's `error` message.
        viewer = info.context.require_principal()
        wanted = or_none(file_id)
        one = file_id_of(wanted) if wanted is not None else None
        resumed = info.context.resumed
        if (
            one is not None
            and not resumed
            and not _still_followed(viewer, await _current(info, one))
        ):
            raise NotFoundError(NOT_FOUND_MESSAGE)
        return _file_events(info, viewer, one)


async def _file_events(
    info: Info[Context, Any], viewer: Principal, one: str | None
) -> AsyncGenerator[FileEventType, None]:
    source = info.context.services.file_events
    if source is None:
        raise RuntimeError("file events are not wired into Services")
    order = _Order()
    async with source.subscribe(FileEventInterest(viewer, one)) as events:
        # Checked again once subscribed: an unshare between the first check and here
        # would otherwise leave a stream open that nothing ever ends.
        resumed = info.context.resumed
        if (
            one is not None
            and not resumed
            and not _still_followed(viewer, await _current(info, one))
        ):
            return
        async for event in events:
            if not order.is_new(event):
                continue
            current = None
            if event.kind is not FileEventKind.DELETED:
                current = await _current(info, event.file_id)
            delivery = file_event_delivery(viewer, event, current, one_file=one is not None)
            if delivery is not EventDelivery.SKIP:
                yield _as_type(event, delivery, current)
            if one is not None and not _still_followed(viewer, current):
                return  # deleted or no longer readable: this subscription is over
