"""Backups never carry a half-finished multipart upload: the PENDING file's metadata is
kept (it expires on time after a restore) but not its store upload, so the restored file
tells its owner the parts are gone instead of reopening an upload nobody finishes."""

import gzip
from pathlib import Path

import pytest

from domain.errors import InvalidInputError
from domain.files import NewFile
from ops.backup.backup import run_backup
from ops.backup.restore import run_restore
from ops.backup.targets import DirectoryTarget
from tests.support.backup import local_stores, upload, user


async def test_a_pending_multipart_upload_is_backed_up_without_its_upload(tmp_path: Path) -> None:
    target = DirectoryTarget(tmp_path / "dest")
    alice = user("alice")
    async with local_stores(tmp_path / "source") as source:
        await source.profiles.ensure_profile(alice)
        ready_id = await upload(source, alice, b"finished\n")
        record, _ = await source.files.create_upload(
            alice, NewFile(name="big.bin", content_type="text/plain", size=10, multipart=True)
        )
        assert record.multipart is not None
        upload_id = record.multipart.upload_id
        await run_backup(source.items, source.blobs, target)

    stored = b"".join(
        gzip.decompress(part.read_bytes()) for part in (tmp_path / "dest").rglob("items-*.gz")
    )
    assert record.id.encode() in stored
    assert upload_id.encode() not in stored

    async with local_stores(tmp_path / "restored") as restored:
        await run_restore(target, restored.items, restored.blobs)
        assert (await restored.files.get_file(alice, ready_id)).status.value == "READY"
        pending = await restored.files.get_file(alice, record.id)
        assert await restored.files.uploaded_parts(alice, pending) == []
        with pytest.raises(InvalidInputError, match="parts are gone"):
            await restored.files.upload_parts(alice, record.id, [1])
        assert await restored.files.abort_upload(alice, record.id) == record.id
