"""Backup and restore round trips: what was there comes back, bytes and all, on either
backend and across them; the search index is rebuilt; repeated backups add only new bytes."""

from pathlib import Path

import pytest

from ops.backup.backup import run_backup
from ops.backup.crypto import PartCipher
from ops.backup.restore import run_restore
from ops.backup.targets import DirectoryTarget, S3Target
from ops.backup.verify import verify_backup
from tests.support.backup import (
    KEY_HEX,
    aws_stores,
    local_stores,
    search_hits,
    seed,
    snapshot,
    upload,
    user,
)
from tests.support.blob_backends import sigv4_s3_client
from tests.support.moto_server import shared_moto_server, unique_name


async def test_local_round_trip_brings_back_items_bytes_and_search(tmp_path: Path) -> None:
    target = DirectoryTarget(tmp_path / "dest")
    async with local_stores(tmp_path / "source") as source:
        ready = await seed(source)
        before = await snapshot(source)
        backed_up = await run_backup(source.items, source.blobs, target)
    assert backed_up.ok
    assert backed_up.manifest.blobs == len(ready) - 1  # two files share their bytes
    assert (await verify_backup(target, None)).ok

    async with local_stores(tmp_path / "restored") as restored:
        result = await run_restore(target, restored.items, restored.blobs)
        after = await snapshot(restored)
        assert after == before
        assert result.items == len(before["items"])
        assert await search_hits(restored, "report") > 0
        # The restored store works for users: the restored file can be changed and read.
        record = await restored.files.get_file(user("alice"), ready[2])
        assert record.status.value == "READY"
        # Listing items are not backed up; restore rebuilds them, so the lists come back.
        alice, bob = user("alice"), user("bob")
        owned = await restored.files.list_files_of(alice, alice.user_id, first=50)
        assert sorted(r.id for r in owned.records) == sorted(ready)
        shared = await restored.files.list_shared_with_me(bob, first=50)
        assert [r.id for r in shared.records] == [ready[0]]
        pending = await restored.files.list_files_of(bob, bob.user_id, first=50)
        assert [r.name for r in pending.records] == ["pending.txt"]


async def test_repeated_backups_only_add_new_bytes(tmp_path: Path) -> None:
    target = DirectoryTarget(tmp_path / "dest")
    async with local_stores(tmp_path / "source") as source:
        await seed(source, files=4)
        first = await run_backup(source.items, source.blobs, target)
        second = await run_backup(source.items, source.blobs, target)
        await upload(source, user("alice"), b"one more file\n", name="new.txt")
        third = await run_backup(source.items, source.blobs, target)
    assert first.manifest.new_blobs == 3
    assert (second.manifest.new_blobs, second.manifest.new_blob_bytes) == (0, 0)
    assert third.manifest.new_blobs == 1
    assert third.manifest.new_blob_bytes == len(b"one more file\n")
    stored = [path for path in (tmp_path / "dest" / "blobs").rglob("*") if path.is_file()]
    assert len(stored) == 4


async def test_encrypted_round_trip_hides_the_contents(tmp_path: Path) -> None:
    cipher = PartCipher.from_hex(KEY_HEX)
    target = DirectoryTarget(tmp_path / "dest")
    async with local_stores(tmp_path / "source") as source:
        await seed(source)
        await upload(source, user("alice"), b"top secret plans\n", name="plans.txt")
        before = await snapshot(source)
        await run_backup(source.items, source.blobs, target, cipher=cipher)
    stored = b"".join(p.read_bytes() for p in (tmp_path / "dest").rglob("*") if p.is_file())
    assert b"top secret plans" not in stored
    assert b"alice@example.com" not in stored
    assert (await verify_backup(target, cipher)).ok
    async with local_stores(tmp_path / "restored") as restored:
        await run_restore(target, restored.items, restored.blobs, cipher=cipher)
        assert await snapshot(restored) == before


@pytest.mark.slow
async def test_aws_to_local_and_local_to_aws(tmp_path: Path) -> None:
    to_local = DirectoryTarget(tmp_path / "from-aws")
    async with aws_stores() as aws:
        await seed(aws, files=3)
        await upload(aws, user("carol"), b"no checksum declared", declare_sha256=False)
        before = await snapshot(aws)
        assert (await run_backup(aws.items, aws.blobs, to_local, source="aws")).ok
    async with local_stores(tmp_path / "local") as local:
        await run_restore(to_local, local.items, local.blobs)
        assert await snapshot(local) == before
        to_aws = DirectoryTarget(tmp_path / "from-local")
        await upload(local, user("dave"), b"made locally\n")
        before = await snapshot(local)
        await run_backup(local.items, local.blobs, to_aws)
    async with aws_stores() as aws:
        await run_restore(to_aws, aws.items, aws.blobs, concurrency=1)
        assert await snapshot(aws) == before
        assert await search_hits(aws, "report") > 0


@pytest.mark.slow
async def test_backup_into_an_s3_prefix(tmp_path: Path) -> None:
    client = sigv4_s3_client(shared_moto_server())
    bucket = unique_name("backups")
    client.create_bucket(Bucket=bucket)
    target = S3Target(client, bucket, "nightly")
    cipher = PartCipher.from_hex(KEY_HEX)
    async with local_stores(tmp_path / "source") as source:
        await seed(source)
        before = await snapshot(source)
        await run_backup(source.items, source.blobs, target, cipher=cipher)
        again = await run_backup(source.items, source.blobs, target, cipher=cipher)
    assert again.manifest.new_blobs == 0
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert all(key.startswith("nightly/") for key in keys)
    assert (await verify_backup(target, cipher)).ok
    async with aws_stores() as aws:
        await run_restore(target, aws.items, aws.blobs, cipher=cipher, concurrency=1)
        assert await snapshot(aws) == before
