"""The access rules, in one place (docs/ARCHITECTURE.md "Authorization"). Resolvers and REST
call these; nothing else decides who may see or change what."""

import enum

from domain.events import FileEvent, FileEventKind
from domain.models import FileRecord, Principal, User, Visibility


def may_see_private_profile(viewer: Principal, user: User) -> bool:
    """Email and groups are visible to the user themself and to admins only."""
    return viewer.is_admin or viewer.user_id == user.id


def may_update_profile(viewer: Principal, user: User) -> bool:
    return viewer.is_admin or viewer.user_id == user.id


def may_delete_account(viewer: Principal, user_id: str) -> bool:
    """One's own account; admins delete any."""
    return viewer.is_admin or viewer.user_id == user_id


def may_read_file(viewer: Principal, file: FileRecord) -> bool:
    """Own files, PUBLIC files, files shared with the viewer; admins read everything."""
    return (
        viewer.is_admin
        or file.owner_id == viewer.user_id
        or file.visibility is Visibility.PUBLIC
        or viewer.user_id in file.shared_with
    )


def may_read_every_file_of(viewer: Principal, owner_id: str) -> bool:
    """The owner and admins read all of an owner's files: their listings hide none."""
    return viewer.is_admin or viewer.user_id == owner_id


def may_change_file(viewer: Principal, file: FileRecord) -> bool:
    """Update, delete, share, complete: the owner or an admin."""
    return viewer.is_admin or file.owner_id == viewer.user_id


def visible_shares(viewer: Principal, file: FileRecord) -> tuple[str, ...]:
    """``File.sharedWith``: the owner and admins see the list; everyone else sees none
    (who else a file is shared with is the owner's business)."""
    return file.shared_with if may_change_file(viewer, file) else ()


# --- file events (subscriptions): decided per subscriber, when an event is delivered ---


class EventDelivery(enum.Enum):
    SKIP = "skip"  # not a word of it reaches this viewer, not even the file id
    WITHOUT_FILE = "without_file"  # DELETED / UNSHARED: the event, `file` null
    WITH_FILE = "with_file"  # the event and the file as the viewer may see it now


def follows_file(viewer: Principal, file: FileRecord, *, one_file: bool) -> bool:
    """Whose events a subscription carries: without a file id, files the viewer owns or
    that are shared with them (admins: all; other users' PUBLIC files would make every
    stream a broadcast); for one file, any file the viewer may read."""
    if one_file:
        return may_read_file(viewer, file)
    return viewer.is_admin or file.owner_id == viewer.user_id or viewer.user_id in file.shared_with


def file_event_delivery(
    viewer: Principal, event: FileEvent, current: FileRecord | None, *, one_file: bool
) -> EventDelivery:
    """``current`` is the file as it is now (None once deleted): access is checked at
    delivery, so an event committed before an unshare is not delivered after it."""
    kind = event.kind
    if kind is FileEventKind.DELETED:
        # Gone for everyone: told to whoever followed it just before.
        before = follows_file(viewer, event.record, one_file=one_file)
        return EventDelivery.WITHOUT_FILE if before else EventDelivery.SKIP
    if kind is FileEventKind.UNSHARED and event.subject_id == viewer.user_id:
        return EventDelivery.WITHOUT_FILE  # once, and then nothing more (unless readable)
    if current is None or not follows_file(viewer, current, one_file=one_file):
        return EventDelivery.SKIP
    if kind in (FileEventKind.SHARED, FileEventKind.UNSHARED):
        # Whom a file is shared with is the owner's business (visible_shares): besides
        # the user concerned, only those who may change the file hear of it.
        if event.subject_id != viewer.user_id and not may_change_file(viewer, current):
            return EventDelivery.SKIP
        if kind is FileEventKind.UNSHARED:
            return EventDelivery.WITHOUT_FILE
    return EventDelivery.WITH_FILE
