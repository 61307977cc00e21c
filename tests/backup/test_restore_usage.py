"""A backup taken before usage became counters (``ready_bytes`` and a ``pending`` map, no
reservation items) restores to a store whose quota counts every restored byte."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.cli import main
from domain.errors import InvalidInputError
from domain.files import FileLimits, FileService, NewFile, new_file_id, usage_key
from domain.files.quota import Usage
from domain.ports import Delete, Key, Put
from ops.backup.backup import run_backup
from ops.backup.restore import run_restore
from ops.backup.targets import DirectoryTarget
from tests.support.backup import Stores, local_stores, upload, user


async def make_usage_old_shape(stores: Stores, owner_id: str, pending_id: str) -> int:
    """Rewrite an owner's usage the way the older code kept it; returns its READY bytes."""
    usage = await stores.files.repository.usage(owner_id)
    [reservation] = await stores.files.repository.reservations(owner_id)
    assert reservation.file_id == pending_id
    ready_bytes = usage.used_bytes - reservation.size
    key = usage_key(owner_id)
    old = {
        "pk": key.pk,
        "sk": key.sk,
        "type": "FileUsage",
        "owner_id": owner_id,
        "ready_bytes": ready_bytes,
        "pending": {pending_id: [reservation.size, reservation.expires_at]},
        "version": 4,
    }
    await stores.items.write([Put(old), Delete(Key(key.pk, f"RESERVATION#{pending_id}"))])
    return ready_bytes


def tight(stores: Stores, quota: int) -> FileService:
    """The restored store served with a quota of exactly ``quota`` bytes."""
    return FileService(
        items=stores.items,
        blobs=stores.blobs,
        clock=lambda: datetime.now(UTC),
        id_factory=new_file_id,
        limits=FileLimits(
            max_upload_bytes=quota,
            quota_bytes=quota,
            pending_ttl_seconds=3600,
            upload_expiry_seconds=900,
        ),
    )


async def test_an_old_backup_restores_with_its_bytes_counted(tmp_path: Path) -> None:
    alice = user("alice")
    target = DirectoryTarget(tmp_path / "backup")
    async with local_stores(tmp_path / "source") as source:
        for body in (b"a" * 300, b"b" * 200):
            await upload(source, alice, body)
        pending = await upload(source, alice, b"c" * 50, complete=False)
        ready_bytes = await make_usage_old_shape(source, alice.user_id, pending)
        await run_backup(source.items, source.blobs, target)

    async with local_stores(tmp_path / "restored") as restored:
        await run_restore(target, restored.items, restored.blobs)

        assert ready_bytes == 500
        usage = await restored.files.repository.usage(alice.user_id)
        assert usage == Usage(alice.user_id, used_bytes=550, pending_uploads=1)
        [reservation] = await restored.files.repository.reservations(alice.user_id)
        assert (reservation.file_id, reservation.size) == (pending, 50)
        service = tight(restored, 600)
        declare = NewFile(name="more.txt", content_type="text/plain", size=51)
        with pytest.raises(InvalidInputError, match="storage quota exceeded: 550 of 600"):
            await service.create_upload(alice, declare)
        await service.create_upload(alice, replace(declare, size=50))


def test_recount_usage_command_fixes_an_upgraded_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "data"
    monkeypatch.setenv("DEMOBACKEND_DATA_DIR", str(folder))
    alice, bob = user("alice"), user("bob")

    async def upgrade() -> str:
        async with local_stores(folder) as stores:
            for principal in (alice, bob):
                await stores.profiles.ensure_profile(principal)
            await upload(stores, alice, b"a" * 300)
            pending = await upload(stores, alice, b"c" * 50, complete=False)
            await make_usage_old_shape(stores, alice.user_id, pending)
            return pending

    pending = asyncio.run(upgrade())

    assert main(["recount-usage"]) == 0
    summary = "recounted usage of 2 users: 350 bytes, 1 unfinished uploads"
    assert summary in capsys.readouterr().out.splitlines()

    async def check() -> None:
        async with local_stores(folder) as stores:
            usage = await stores.files.repository.usage(alice.user_id)
            assert usage == Usage(alice.user_id, used_bytes=350, pending_uploads=1)
            reserved = await stores.files.repository.reservations(alice.user_id)
            assert [r.file_id for r in reserved] == [pending]

    asyncio.run(check())
