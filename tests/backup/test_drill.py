"""The drill as A2's schedulers call it: run_drill(items, blobs, workdir=…)."""

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from domain.ports import Delete, Key, Put
from ops.backup.backup import run_backup
from ops.backup.drill import compare, run_drill
from ops.backup.restore import run_restore
from ops.backup.targets import DirectoryTarget
from tests.support.backup import KEY_HEX, aws_stores, blob_key_of, local_stores, seed


async def test_drill_of_a_healthy_store_finds_no_difference(tmp_path: Path) -> None:
    async with local_stores(tmp_path / "source") as source:
        ready = await seed(source)
        report = await run_drill(
            source.items,
            source.blobs,
            workdir=tmp_path / "drill",
            encryption_key=bytes.fromhex(KEY_HEX),
        )
    assert report.ok, report.differences
    assert report.blobs == len(ready)
    assert report.restore_seconds > 0 and report.backup_seconds > 0
    assert report.search_documents >= len(ready)
    body = report.as_dict()
    assert json.loads(json.dumps(body)) == body
    assert KEY_HEX not in json.dumps(body)


async def test_drill_fails_when_a_ready_file_has_lost_its_bytes(tmp_path: Path) -> None:
    async with local_stores(tmp_path / "source") as source:
        ready = await seed(source)
        await source.blobs.delete(await blob_key_of(source, ready[4]))
        report = await run_drill(source.items, source.blobs, workdir=tmp_path / "drill")
    assert not report.ok
    assert report.differences == [
        f"source: file {ready[4]}: READY but its bytes are missing (left out)"
    ]


async def test_the_comparison_finds_missing_changed_and_extra_items_and_bad_bytes(
    tmp_path: Path,
) -> None:
    target = DirectoryTarget(tmp_path / "dest")
    async with local_stores(tmp_path / "source") as source:
        ready = await seed(source)
        backup_id = (await run_backup(source.items, source.blobs, target)).manifest.id
    async with local_stores(tmp_path / "restored") as restored:
        await run_restore(target, restored.items, restored.blobs)
        assert await compare(target, None, backup_id, restored.items, restored.blobs) == []

        [usage] = await restored.items.get_many([Key("USER#u-alice", "USAGE")])
        assert usage is not None
        await restored.items.write([Put({**usage, "used_bytes": 1})])
        await restored.items.write([Delete(Key("USER#u-bob", "PROFILE"))])
        await restored.items.write([Put({"pk": "EXTRA#1", "sk": "X"})])
        await restored.blobs.write(
            await blob_key_of(restored, ready[3]),
            one(b"other"),
            content_type="text/plain",
            sha256=hashlib.sha256(b"other").hexdigest(),
        )
        differences = await compare(target, None, backup_id, restored.items, restored.blobs)
    assert sorted(differences) == sorted(
        [
            "item USER#u-alice / USAGE: wrong for the restored files",
            "item USER#u-bob / PROFILE: not restored",
            "item EXTRA#1 / X: not in the backup",
            f"file {ready[3]}: restored bytes hash differently from the backup",
        ]
    )


async def one(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.mark.slow
async def test_drill_of_the_aws_backend_restores_into_a_local_scratch(tmp_path: Path) -> None:
    async with aws_stores() as aws:
        ready = await seed(aws, files=3)
        report = await run_drill(aws.items, aws.blobs, workdir=tmp_path / "drill", source="aws")
    assert report.ok, report.differences
    assert report.blobs == len(ready)
    assert (tmp_path / "drill" / "scratch" / "items.sqlite3").exists()


async def test_the_comparison_notices_a_search_index_that_was_not_rebuilt(
    tmp_path: Path,
) -> None:
    target = DirectoryTarget(tmp_path / "dest")
    async with local_stores(tmp_path / "source") as source:
        await seed(source)
        backup_id = (await run_backup(source.items, source.blobs, target)).manifest.id
    async with local_stores(tmp_path / "restored") as restored:
        result = await run_restore(target, restored.items, restored.blobs, rebuild_index=False)
        assert result.search_documents == 0
        differences = await compare(target, None, backup_id, restored.items, restored.blobs)
    # 6 READY files and 2 users, none of them searchable.
    assert differences == ["search index: 0 of 8 documents indexed"]
