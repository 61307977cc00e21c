"""A damaged, truncated or tampered backup is found out, with a message naming what is
wrong, before anything is written; an encrypted backup needs its own key."""

import hashlib
import json
from pathlib import Path

import pytest

from ops.backup.backup import run_backup
from ops.backup.crypto import PartCipher
from ops.backup.errors import BackupDamagedError, BackupError, BackupKeyError
from ops.backup.restore import run_restore
from ops.backup.targets import DirectoryTarget
from ops.backup.verify import verify_backup
from tests.support.backup import KEY_HEX, OTHER_KEY_HEX, local_stores, seed, snapshot


async def make_backup(tmp_path: Path, cipher: PartCipher | None = None) -> tuple[Path, str]:
    async with local_stores(tmp_path / "source") as source:
        await seed(source)
        result = await run_backup(
            source.items, source.blobs, DirectoryTarget(tmp_path / "dest"), cipher=cipher
        )
    return tmp_path / "dest", result.manifest.id


def items_part(dest: Path, backup_id: str) -> Path:
    return dest / "backups" / backup_id / "items-000001.jsonl.gz"


def some_blob(dest: Path) -> Path:
    return sorted(path for path in (dest / "blobs").rglob("*") if path.is_file())[0]


def flip_a_byte(path: Path, offset: int = -5) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


async def assert_restore_refused(tmp_path: Path, dest: Path, match: str, **kw: object) -> None:
    async with local_stores(tmp_path / "restored") as target:
        with pytest.raises(BackupDamagedError, match=match):
            await run_restore(DirectoryTarget(dest), target.items, target.blobs, **kw)  # type: ignore[arg-type]
        assert [page async for page in target.items.scan()] == []  # nothing written


async def test_an_altered_items_part_is_reported_and_not_restored(tmp_path: Path) -> None:
    dest, backup_id = await make_backup(tmp_path)
    flip_a_byte(items_part(dest, backup_id))
    report = await verify_backup(DirectoryTarget(dest), None)
    assert not report.ok
    assert any("items-000001.jsonl.gz: SHA-256 does not match" in p for p in report.problems)
    await assert_restore_refused(tmp_path, dest, "items-000001.jsonl.gz")


async def test_a_truncated_items_part_is_reported(tmp_path: Path) -> None:
    dest, backup_id = await make_backup(tmp_path)
    part = items_part(dest, backup_id)
    part.write_bytes(part.read_bytes()[:-10])
    report = await verify_backup(DirectoryTarget(dest), None)
    assert any("truncated" in problem for problem in report.problems)
    await assert_restore_refused(tmp_path, dest, "truncated")


async def test_an_altered_blob_is_reported_and_not_restored(tmp_path: Path) -> None:
    dest, _ = await make_backup(tmp_path)
    flip_a_byte(some_blob(dest), offset=3)
    report = await verify_backup(DirectoryTarget(dest), None)
    assert [p for p in report.problems if "does not match its SHA-256" in p]
    async with local_stores(tmp_path / "restored") as target:
        with pytest.raises(BackupDamagedError, match="does not match its SHA-256"):
            await run_restore(DirectoryTarget(dest), target.items, target.blobs)


async def test_a_truncated_or_missing_blob_is_reported(tmp_path: Path) -> None:
    dest, _ = await make_backup(tmp_path)
    blobs = sorted(path for path in (dest / "blobs").rglob("*") if path.is_file())
    blobs[0].write_bytes(blobs[0].read_bytes()[:-1])
    blobs[1].unlink()
    problems = (await verify_backup(DirectoryTarget(dest), None)).problems
    assert any(f"blob {blobs[0].name[:12]}" in p and "truncated" in p for p in problems)
    assert any(f"blob {blobs[1].name[:12]}" in p and "missing" in p for p in problems)


async def test_an_edited_manifest_is_refused(tmp_path: Path) -> None:
    dest, backup_id = await make_backup(tmp_path)
    manifest = dest / "backups" / backup_id / "manifest.json"
    body = json.loads(manifest.read_bytes())
    body["item_parts"] = []  # hide every item
    manifest.write_text(json.dumps(body))
    with pytest.raises(BackupDamagedError, match=r"does not match manifest\.sha256"):
        await verify_backup(DirectoryTarget(dest), None)
    await assert_restore_refused(tmp_path, dest, "manifest")


async def test_an_encrypted_backup_edited_by_someone_without_the_key_is_refused(
    tmp_path: Path,
) -> None:
    cipher = PartCipher.from_hex(KEY_HEX)
    dest, backup_id = await make_backup(tmp_path, cipher)
    folder = dest / "backups" / backup_id
    body = json.loads((folder / "manifest.json").read_bytes())
    body["item_parts"] = []
    edited = json.dumps(body).encode()
    (folder / "manifest.json").write_bytes(edited)
    checksum = (folder / "manifest.sha256").read_text().splitlines()
    fixed = [
        f"sha256 {hashlib.sha256(edited).hexdigest()}" if line.startswith("sha256 ") else line
        for line in checksum
    ]
    (folder / "manifest.sha256").write_text("\n".join(fixed) + "\n")
    with pytest.raises(BackupDamagedError, match="fails authentication"):
        await verify_backup(DirectoryTarget(dest), cipher)


async def test_wrong_or_missing_key_is_a_clear_error(tmp_path: Path) -> None:
    dest, _ = await make_backup(tmp_path, PartCipher.from_hex(KEY_HEX))
    with pytest.raises(BackupKeyError, match="not the key this backup was encrypted with"):
        await verify_backup(DirectoryTarget(dest), PartCipher.from_hex(OTHER_KEY_HEX))
    with pytest.raises(BackupKeyError, match="the backup is encrypted"):
        await verify_backup(DirectoryTarget(dest), None)
    async with local_stores(tmp_path / "restored") as target:
        with pytest.raises(BackupKeyError):
            await run_restore(DirectoryTarget(dest), target.items, target.blobs)
        assert (await snapshot(target))["items"] == {}


async def test_an_altered_encrypted_blob_fails_authentication(tmp_path: Path) -> None:
    cipher = PartCipher.from_hex(KEY_HEX)
    dest, _ = await make_backup(tmp_path, cipher)
    flip_a_byte(some_blob(dest), offset=20)
    problems = (await verify_backup(DirectoryTarget(dest), cipher)).problems
    assert any("fails authentication" in problem for problem in problems)


async def test_no_backup_in_an_empty_destination(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no complete backup found"):
        await verify_backup(DirectoryTarget(tmp_path / "nothing-here"), None)
