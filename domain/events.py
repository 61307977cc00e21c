"""File events: what each committed file write tells subscribers, and the two small ports
that carry them (a publisher the use cases call after a commit, a source subscriptions
read). Who may receive an event is decided at delivery by domain/access.py, never here:
an event names who *might* care (its audience) so a bus can route without a broadcast.
"""

import enum
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.errors import DomainError
from domain.models import FileRecord, Principal


class FileEventKind(enum.Enum):
    CREATED = "CREATED"
    READY = "READY"
    UPDATED = "UPDATED"
    DELETED = "DELETED"
    SHARED = "SHARED"
    UNSHARED = "UNSHARED"


@dataclass(frozen=True, slots=True)
class FileEvent:
    """A committed change to a file, as subscribers receive it: what happened, the file as
    that write left it, and a version to put events back in commit order."""

    kind: FileEventKind
    # The file as this write committed it; for DELETED, as it was just before.
    record: FileRecord
    # The version this write made: per file, every write makes a higher one (a deletion
    # counts as one past the last), so a subscriber can keep commit order.
    version: int
    at: datetime
    # SHARED / UNSHARED: the user the file was shared with or unshared from.
    subject_id: str | None = None

    @property
    def file_id(self) -> str:
        return self.record.id

    def audience(self) -> frozenset[str]:
        """Users whose own (unfiltered) stream may carry this event. Admins and
        subscribers of this one file are routed besides; access is checked at delivery."""
        users = {self.record.owner_id, *self.record.shared_with}
        if self.subject_id is not None:
            users.add(self.subject_id)
        return frozenset(users)


def file_event(
    kind: FileEventKind, record: FileRecord, at: datetime, subject_id: str | None = None
) -> FileEvent:
    """The event of a committed write that produced ``record`` (for DELETED: the record
    that was deleted; the deletion is one version past it)."""
    version = record.version + 1 if kind is FileEventKind.DELETED else record.version
    return FileEvent(kind, record, version, at, subject_id)


@dataclass(frozen=True, slots=True)
class FileEventInterest:
    """One subscription: who is listening, and to one file or to everything in scope."""

    viewer: Principal
    file_id: str | None = None


class EventBacklogError(DomainError):
    """A subscriber fell so far behind that events for it had to be dropped; its
    subscription ends rather than silently skip one."""

    code = "TOO_MANY_EVENTS"

    def __init__(self) -> None:
        super().__init__("Events arrived faster than this subscription read them")


class FileEventPublisher(Protocol):
    async def publish(self, event: FileEvent) -> None:
        """Hand over one committed event; never raises for a subscriber's sake."""
        ...


class FileEventSource(Protocol):
    def subscribe(
        self, interest: FileEventInterest
    ) -> AbstractAsyncContextManager[AsyncIterator[FileEvent]]:
        """Events published while the context is open that may concern ``interest``, in
        publish order; ends with EventBacklogError when the subscriber fell behind."""
        ...
