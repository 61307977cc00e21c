"""File events from a committed item change, as a change stream reports it (DynamoDB
Streams on AWS): the old and new image of one file's meta item. The same events the use
cases publish in-process (domain/files/events.py), derived from what the store committed,
so nothing a writer forgets to publish is lost and nothing uncommitted is ever sent."""

from datetime import datetime

from domain.events import FileEvent, FileEventKind, file_event
from domain.files.items import file_from_item
from domain.models import FileStatus
from domain.ports import Item

_META = "META"


def is_file_meta(item: Item | None) -> bool:
    return (
        item is not None
        and str(item.get("pk", "")).startswith("FILE#")
        and item.get("sk") == _META
        and item.get("type") == "File"
    )


def events_of_change(old: Item | None, new: Item | None, at: datetime) -> list[FileEvent]:
    """Events of one committed change of a file's meta item; [] for any other item.
    ``at`` stands for the time of a deletion, which no image carries."""
    before = file_from_item(old) if old is not None and is_file_meta(old) else None
    after = file_from_item(new) if new is not None and is_file_meta(new) else None
    if after is None:
        return [] if before is None else [file_event(FileEventKind.DELETED, before, at)]
    if before is None:
        return [file_event(FileEventKind.CREATED, after, after.updated_at)]
    if after.version <= before.version:
        return []  # rewritten unchanged (a restore, a repair): nothing happened to it
    when = after.updated_at
    if before.status is not FileStatus.READY and after.status is FileStatus.READY:
        return [file_event(FileEventKind.READY, after, when)]
    added = [user for user in after.shared_with if user not in before.shared_with]
    removed = [user for user in before.shared_with if user not in after.shared_with]
    if added or removed:
        return [
            *(file_event(FileEventKind.SHARED, after, when, user) for user in added),
            *(file_event(FileEventKind.UNSHARED, after, when, user) for user in removed),
        ]
    return [file_event(FileEventKind.UPDATED, after, when)]
