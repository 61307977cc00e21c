"""File events derived from committed item changes (the AWS stream path): the same kinds,
versions and subjects the use cases publish in-process."""

from dataclasses import replace
from datetime import UTC, datetime

from domain.events import FileEventKind
from domain.files.items import file_to_item, put_share
from domain.files.stream import events_of_change
from domain.models import FileRecord, FileStatus, Visibility

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 2, tzinfo=UTC)
PENDING = FileRecord(
    id="f1",
    owner_id="ada",
    name="a.txt",
    content_type="text/plain",
    size=3,
    sha256=None,
    status=FileStatus.PENDING,
    visibility=Visibility.PRIVATE,
    description=None,
    tags=(),
    shared_with=(),
    version=1,
    created_at=T0,
    updated_at=T0,
    blob_key="files/f1/blob",
    expires_at=1_900_000_000,
)
READY = replace(PENDING, status=FileStatus.READY, version=2, updated_at=T1, expires_at=None)


def kinds(old: FileRecord | None, new: FileRecord | None) -> list[tuple[str, int, str | None]]:
    found = events_of_change(
        file_to_item(old) if old else None, file_to_item(new) if new else None, T1
    )
    return [(e.kind.value, e.version, e.subject_id) for e in found]


def test_each_committed_change_names_its_event() -> None:
    shared = replace(READY, version=3, shared_with=("bob",))
    assert kinds(None, PENDING) == [("CREATED", 1, None)]
    assert kinds(PENDING, READY) == [("READY", 2, None)]
    assert kinds(READY, shared) == [("SHARED", 3, "bob")]
    assert kinds(shared, replace(READY, version=4)) == [("UNSHARED", 4, "bob")]
    assert kinds(READY, replace(READY, version=3, description="x")) == [("UPDATED", 3, None)]
    # A deletion is one version past the last, as the local bus numbers it.
    assert kinds(READY, None) == [("DELETED", 3, None)]


def test_other_items_and_unchanged_rewrites_make_no_event() -> None:
    assert kinds(READY, READY) == []  # a restore writing the same version
    share = put_share(READY, "bob", "2026-01-02T00:00:00.000000Z").item
    assert events_of_change(None, share, T1) == []
    assert events_of_change({"pk": "USER#ada", "sk": "USAGE", "bytes": 3}, None, T1) == []


def test_a_deleted_files_event_carries_the_record_it_had() -> None:
    (event,) = events_of_change(file_to_item(READY), None, T1)
    assert event.kind is FileEventKind.DELETED
    assert event.record == READY and event.at == T1
