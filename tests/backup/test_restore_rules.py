"""Restore refuses to mix into existing data, resumes after an interruption, and a backup
taken while users keep writing restores to a state whose READY files all have their bytes."""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from domain.errors import StoreUnavailableError
from domain.ports import Item, ItemStore, Key, Page, WriteOp
from ops.backup import selection
from ops.backup.backup import run_backup
from ops.backup.errors import RestoreTargetNotEmptyError
from ops.backup.restore import run_restore
from ops.backup.targets import DirectoryTarget
from tests.support.backup import (
    Stores,
    blob_key_of,
    local_stores,
    seed,
    snapshot,
    upload,
    user,
)


async def test_restore_into_a_store_with_data_is_refused_unless_forced(tmp_path: Path) -> None:
    target = DirectoryTarget(tmp_path / "dest")
    async with local_stores(tmp_path / "source") as source:
        await seed(source)
        before = await snapshot(source)
        await run_backup(source.items, source.blobs, target)
    async with local_stores(tmp_path / "busy") as busy:
        mine = await upload(busy, user("zoe"), b"already here\n")
        with pytest.raises(RestoreTargetNotEmptyError, match="--force"):
            await run_restore(target, busy.items, busy.blobs)
        assert [i["id"] for i in (await snapshot(busy))["items"].values() if i.get("id") == mine]

        await run_restore(target, busy.items, busy.blobs, force=True)
        after = await snapshot(busy)
        assert before["items"].items() <= after["items"].items()
        assert mine in after["blobs"]  # forced: what was there stays


class FailingAfter:
    """An ItemStore that fails every write after the first ``writes`` (a crash mid-way)."""

    def __init__(self, inner: ItemStore, writes: int) -> None:
        self.inner = inner
        self.left = writes

    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        return await self.inner.get_many(keys)

    async def query(self, partition: str, **kwargs: object) -> Page:
        return await self.inner.query(partition, **kwargs)  # type: ignore[arg-type]

    async def write(self, ops: Sequence[WriteOp]) -> None:
        if self.left <= 0:
            raise StoreUnavailableError("The item store is unavailable")
        self.left -= 1
        await self.inner.write(ops)

    def scan(self, *, page_size: int = 500) -> AsyncIterator[list[Item]]:
        return self.inner.scan(page_size=page_size)

    async def ping(self) -> None:
        await self.inner.ping()


class CrashingAfterParts(FailingAfter):
    """Fails every write once the restore journal records ``parts`` parts as done (a crash
    between parts). Counting writes would not do: parts are indexed while the next part's
    bytes are written, so how many writes come before a part is done varies."""

    def __init__(self, inner: ItemStore, parts: int) -> None:
        super().__init__(inner, writes=10**9)
        self.parts = parts

    async def write(self, ops: Sequence[WriteOp]) -> None:
        await super().write(ops)
        for op in ops:
            item = getattr(op, "item", None)
            if item and item.get("type") == "RestoreJournal" and len(item["parts"]) >= self.parts:
                self.left = 0


async def test_an_interrupted_restore_resumes_where_it_stopped(tmp_path: Path) -> None:
    target = DirectoryTarget(tmp_path / "dest")
    async with local_stores(tmp_path / "source") as source:
        await seed(source, files=8)
        before = await snapshot(source)
        # Small parts, so the restore has several to get through.
        backed_up = await run_backup(source.items, source.blobs, target, items_per_part=4)
    assert len(backed_up.manifest.item_parts) >= 4
    async with local_stores(tmp_path / "restored") as restored:
        # Two parts done, then a crash.
        crashing = CrashingAfterParts(restored.items, parts=2)
        with pytest.raises(StoreUnavailableError):
            await run_restore(target, crashing, restored.blobs, concurrency=1)
        partial = await snapshot(restored)
        assert 0 < len(partial["items"]) < len(before["items"])

        # A re-run needs no --force: it finds its journal and carries on.
        result = await run_restore(target, restored.items, restored.blobs)
        assert result.resumed
        assert result.items < len(before["items"])  # the parts done before were skipped
        assert await snapshot(restored) == before
        leftovers = [
            item
            async for page in restored.items.scan()
            for item in page
            if str(item["pk"]).startswith(selection.JOURNAL_PREFIX)
        ]
        assert leftovers == []


class SlowScan(FailingAfter):
    """Scans like a big table: a pause between pages lets the writers get ahead."""

    def __init__(self, inner: ItemStore) -> None:
        super().__init__(inner, writes=10**9)

    async def scan(self, *, page_size: int = 500) -> AsyncIterator[list[Item]]:
        async for page in self.inner.scan(page_size=page_size):
            await asyncio.sleep(0.01)
            yield page


async def test_a_backup_taken_under_writes_restores_consistently(tmp_path: Path) -> None:
    target = DirectoryTarget(tmp_path / "dest")
    async with local_stores(tmp_path / "source") as source:
        alice = user("alice")
        await source.profiles.ensure_profile(alice)
        await source.profiles.ensure_profile(user("bob"))
        initial = [
            await upload(source, alice, os.urandom(300), name=f"f{n}.txt") for n in range(40)
        ]
        for file_id in initial[:20]:
            await source.files.share_file(alice, file_id, "bob")  # share items to orphan
        backing_up = asyncio.Event()
        writes_during_backup = 0

        async def writer() -> None:
            """Adds and deletes files for as long as the backup runs."""
            nonlocal writes_during_backup
            for number in range(400):
                await upload(source, alice, os.urandom(200), name=f"new{number}.txt")
                if initial:
                    await source.files.delete_file(alice, initial.pop(0))
                if backing_up.is_set():
                    writes_during_backup += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(writer())
        await asyncio.sleep(0.05)  # writes are under way
        backing_up.set()
        try:
            # Small scan pages and parts, so the backup interleaves with the writes.
            result = await run_backup(
                SlowScan(source.items), source.blobs, target, items_per_part=25, scan_page=10
            )
        finally:
            backing_up.clear()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert writes_during_backup >= 20
    assert result.ok, result.manifest.problems
    async with local_stores(tmp_path / "restored") as restored:
        await run_restore(target, restored.items, restored.blobs)
        state = await snapshot(restored)
    ready = [item for item in state["items"].values() if selection.is_ready_file(item)]
    assert len(ready) >= 10
    for item in ready:
        assert state["blobs"][item["id"]] == item["sha256"]
    files = {item["id"] for item in ready}
    shares = [i for i in state["items"].values() if i.get("type") == "FileShare"]
    assert all(share["file_id"] in files for share in shares)


class DeletingOnRead:
    """A BlobStore through which the first read of ``key`` finds the file just deleted:
    by the user (metadata and bytes), or behind the metadata's back (bytes only)."""

    def __init__(self, stores: Stores, key: str, *, by_user: bool) -> None:
        self.inner = stores.blobs
        self.stores = stores
        self.key = key
        self.by_user = by_user

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        if key == self.key:
            file_id = key.split("/")[1]
            if self.by_user:
                await self.stores.files.delete_file(user("alice"), file_id)
            else:
                await self.inner.delete(key)
        async for chunk in self.inner.read(key):
            yield chunk


@pytest.mark.parametrize("by_user", [True, False], ids=["deleted-by-user", "bytes-lost"])
async def test_a_file_whose_bytes_vanish_mid_backup_is_left_out(
    tmp_path: Path, by_user: bool
) -> None:
    target = DirectoryTarget(tmp_path / "dest")
    async with local_stores(tmp_path / "source") as source:
        ready = await seed(source)
        victim = ready[3]
        await source.files.share_file(user("alice"), victim, "bob")
        blobs = DeletingOnRead(source, await blob_key_of(source, victim), by_user=by_user)
        result = await run_backup(source.items, blobs, target)  # type: ignore[arg-type]
    if by_user:
        assert result.ok
        assert result.manifest.dropped_files == [
            {"id": victim, "reason": "deleted during the backup"}
        ]
    else:
        assert not result.ok
        assert result.manifest.problems == [
            f"file {victim}: READY but its bytes are missing (left out)"
        ]
    async with local_stores(tmp_path / "restored") as restored:
        await run_restore(target, restored.items, restored.blobs)
        state = await snapshot(restored)
    assert victim not in state["blobs"]
    assert not [key for key in state["items"] if key[0] == f"FILE#{victim}"]
    assert len(state["blobs"]) == len(ready) - 1
