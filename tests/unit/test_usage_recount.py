"""Upgrading from the older usage item (``ready_bytes``, a ``pending`` map, ``version``):
the recount makes the quota count existing files again and gives old PENDING uploads their
reservations, on a real SQLite file and on the in-memory store."""

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.blobs.memory import InMemoryBlobStore
from adapters.items.memory import InMemoryItemStore
from adapters.items.sqlite import SqliteItemStore
from domain.errors import InvalidInputError
from domain.files import (
    FileLimits,
    FileRecord,
    FileService,
    FileStatus,
    NewFile,
    Visibility,
    blob_key_for,
    file_to_item,
    recount_all_usage,
    recount_usage,
    usage_key,
)
from domain.files.quota import Usage
from domain.models import Principal
from domain.ports import Item, ItemStore, Key, Page, Put, WriteOp
from tests.support.clock import FakeClock
from tests.support.file_world import PENDING_TTL, T0, Ids

QUOTA = 100
ALICE = Principal("id-alice", "alice")


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ItemStore]:
    if request.param == "memory":
        yield InMemoryItemStore()
        return
    sqlite = SqliteItemStore(tmp_path / "items.sqlite3")
    try:
        yield sqlite
    finally:
        await sqlite.close()


def service_on(store: ItemStore, clock: FakeClock) -> FileService:
    limits = FileLimits(
        max_upload_bytes=QUOTA,
        quota_bytes=QUOTA,
        pending_ttl_seconds=PENDING_TTL,
        upload_expiry_seconds=900,
    )
    return FileService(
        items=store,
        blobs=InMemoryBlobStore(clock=clock.seconds),
        clock=clock,
        id_factory=Ids(),
        limits=limits,
    )


def old_file(file_id: str, size: int, status: FileStatus, *, expires_in: int = 0) -> FileRecord:
    created = T0 - timedelta(hours=1)
    return FileRecord(
        id=file_id,
        owner_id=ALICE.user_id,
        name=f"{file_id}.bin",
        content_type="application/octet-stream",
        size=size,
        sha256=None,
        status=status,
        visibility=Visibility.PRIVATE,
        description=None,
        tags=(),
        shared_with=(),
        version=1,
        created_at=created,
        updated_at=created,
        blob_key=blob_key_for(file_id),
        expires_at=int(T0.timestamp()) + expires_in if status is FileStatus.PENDING else None,
    )


async def write_old_installation(store: ItemStore) -> None:
    """What the older code left: 60 READY bytes, a live 30-byte upload, an expired one."""
    ready = old_file("oldready", 60, FileStatus.READY)
    live = old_file("oldlive", 30, FileStatus.PENDING, expires_in=3600)
    gone = old_file("oldgone", 20, FileStatus.PENDING, expires_in=-60)
    key = usage_key(ALICE.user_id)
    usage: Item = {
        "pk": key.pk,
        "sk": key.sk,
        "type": "FileUsage",
        "owner_id": ALICE.user_id,
        "ready_bytes": 60,
        "pending": {"oldlive": [30, live.expires_at], "oldgone": [20, gone.expires_at]},
        "version": 7,
    }
    await store.write([Put(file_to_item(f)) for f in (ready, live, gone)] + [Put(usage)])


def declare(size: int) -> NewFile:
    return NewFile(name="new.bin", content_type="application/octet-stream", size=size)


async def test_after_the_recount_the_quota_counts_old_files_to_the_byte(store: ItemStore) -> None:
    clock = FakeClock(T0)
    service = service_on(store, clock)
    await write_old_installation(store)

    usage = await recount_usage(store, ALICE.user_id, clock)

    assert usage == Usage(ALICE.user_id, used_bytes=90, pending_uploads=1)
    with pytest.raises(InvalidInputError, match="storage quota exceeded: 90 of 100 bytes used"):
        await service.create_upload(ALICE, declare(11))
    await service.create_upload(ALICE, declare(10))
    [stored] = await store.get_many([usage_key(ALICE.user_id)])
    assert stored is not None
    assert "ready_bytes" not in stored and "pending" not in stored
    assert (stored["used_bytes"], stored["pending_uploads"]) == (100, 2)


async def test_an_old_unfinished_upload_gets_a_reservation_that_deleting_it_releases(
    store: ItemStore,
) -> None:
    clock = FakeClock(T0)
    service = service_on(store, clock)
    await write_old_installation(store)
    await recount_usage(store, ALICE.user_id, clock)

    reserved = await service.repository.reservations(ALICE.user_id)
    assert [(r.file_id, r.size) for r in reserved] == [("oldlive", 30)]
    await service.delete_file(ALICE, "oldlive")
    # Its 30 bytes are free again: 60 READY + 40 fills the quota exactly.
    await service.create_upload(ALICE, declare(40))
    assert await service.repository.usage(ALICE.user_id) == Usage(ALICE.user_id, 100, 1)


async def test_a_second_recount_changes_nothing(store: ItemStore) -> None:
    clock = FakeClock(T0)
    await write_old_installation(store)
    summary = await recount_all_usage(store, clock)
    [first] = await store.get_many([usage_key(ALICE.user_id)])

    again = await recount_all_usage(store, clock)

    assert (summary.owners, summary.used_bytes, summary.pending_uploads) == (1, 90, 1)
    assert again == summary
    assert await store.get_many([usage_key(ALICE.user_id)]) == [first]


class UploadDuringListing:
    """An ItemStore that lets one createUpload commit while the recount lists the owner's
    files: after the recount read the usage item, before it writes the new one."""

    def __init__(self, inner: ItemStore, service: FileService) -> None:
        self.inner = inner
        self.service = service
        self.fired = False

    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        return await self.inner.get_many(keys)

    async def query(self, partition: str, **kwargs: object) -> Page:
        if not self.fired and kwargs.get("index") == "gsi1":
            self.fired = True
            await self.service.create_upload(ALICE, declare(5))
        return await self.inner.query(partition, **kwargs)  # type: ignore[arg-type]

    async def write(self, ops: Sequence[WriteOp]) -> None:
        await self.inner.write(ops)

    def scan(self, *, page_size: int = 500) -> AsyncIterator[list[Item]]:
        return self.inner.scan(page_size=page_size)

    async def ping(self) -> None:
        await self.inner.ping()


async def test_an_upload_committing_during_the_recount_is_counted(store: ItemStore) -> None:
    clock = FakeClock(T0)
    service = service_on(store, clock)
    await write_old_installation(store)
    racing = UploadDuringListing(store, service)

    usage = await recount_usage(racing, ALICE.user_id, clock)

    assert racing.fired
    assert usage == Usage(ALICE.user_id, used_bytes=95, pending_uploads=2)
    assert await service.repository.usage(ALICE.user_id) == usage
    with pytest.raises(InvalidInputError, match="quota exceeded"):
        await service.create_upload(ALICE, declare(6))


async def test_a_reservation_whose_upload_is_gone_is_released(store: ItemStore) -> None:
    clock = FakeClock(T0)
    service = service_on(store, clock)
    record, _ = await service.create_upload(ALICE, declare(50))
    await service.delete_file(ALICE, record.id)
    # A backup read the reservation before a deletion and the files after it: a stray.
    await store.write(
        [
            Put(
                {
                    "pk": f"USER#{ALICE.user_id}",
                    "sk": "RESERVATION#vanished",
                    "type": "FileReservation",
                    "file_id": "vanished",
                    "size": 50,
                    "reserved_until": record.expires_at,
                }
            )
        ]
    )

    usage = await recount_usage(store, ALICE.user_id, clock)

    assert usage == Usage(ALICE.user_id, used_bytes=0, pending_uploads=0)
    assert await service.repository.reservations(ALICE.user_id) == []
    await service.create_upload(ALICE, declare(QUOTA))
