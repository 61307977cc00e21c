"""A restore whose bytes are copied by worker processes (ops/backup/blob_copy.py) restores
exactly what a restore copying them itself does, encrypted or not, and a damaged blob still
fails it: the error names the blob, the restore is not reported done, and no file whose
bytes are missing is listed."""

from functools import partial
from pathlib import Path

import pytest

from adapters.blobs.local.store import LocalBlobStore
from ops.backup.backup import run_backup
from ops.backup.blob_copy import WorkerRecipes
from ops.backup.crypto import PartCipher
from ops.backup.errors import BackupDamagedError
from ops.backup.layout import blob_name
from ops.backup.restore import journal_key, run_restore
from ops.backup.targets import DirectoryTarget
from tests.support.backup import KEY_HEX, local_stores, search_hits, seed, snapshot

FILES = 10


async def make_backup(tmp_path: Path, cipher: PartCipher | None = None) -> Path:
    async with local_stores(tmp_path / "source") as source:
        await seed(source, files=FILES)
        # Small parts: several parts, so bytes and items of different parts overlap.
        await run_backup(
            source.items,
            source.blobs,
            DirectoryTarget(tmp_path / "dest"),
            cipher=cipher,
            items_per_part=5,
        )
    return tmp_path / "dest"


def recipes(dest: Path, folder: Path) -> WorkerRecipes:
    return WorkerRecipes(
        partial(DirectoryTarget, dest),
        partial(
            LocalBlobStore, folder / "blobs", base_url="http://127.0.0.1:9", signing_key=b"k" * 32
        ),
    )


@pytest.mark.parametrize("encrypted", [False, True])
async def test_two_workers_restore_exactly_what_one_process_does(
    tmp_path: Path, encrypted: bool
) -> None:
    cipher = PartCipher.from_hex(KEY_HEX) if encrypted else None
    dest = await make_backup(tmp_path, cipher)
    async with local_stores(tmp_path / "alone") as alone:
        by_one = await run_restore(DirectoryTarget(dest), alone.items, alone.blobs, cipher=cipher)
        expected = await snapshot(alone)
        expected_hits = await search_hits(alone, "report")
    folder = tmp_path / "workers"
    async with local_stores(folder) as restored:
        by_two = await run_restore(
            DirectoryTarget(dest),
            restored.items,
            restored.blobs,
            cipher=cipher,
            worker_recipes=recipes(dest, folder),
            workers=2,
        )
        assert await snapshot(restored) == expected
        assert await search_hits(restored, "report") == expected_hits > 0
    assert (by_one.workers, by_two.workers) == (0, 2)
    assert (by_two.items, by_two.blobs, by_two.blob_bytes, by_two.search_documents) == (
        by_one.items,
        by_one.blobs,
        by_one.blob_bytes,
        by_one.search_documents,
    )
    assert by_two.blobs == FILES  # one per file, even where two files share their bytes


async def test_a_damaged_blob_fails_a_restore_with_workers(tmp_path: Path) -> None:
    dest = await make_backup(tmp_path)
    blobs = sorted(path for path in (dest / "blobs").rglob("*") if path.is_file())
    damaged = blobs[len(blobs) // 2]
    sha = damaged.name
    assert dest / blob_name(sha) == damaged
    data = bytearray(damaged.read_bytes())
    data[3] ^= 0x01
    damaged.write_bytes(bytes(data))
    folder = tmp_path / "restored"
    async with local_stores(folder) as restored:
        with pytest.raises(BackupDamagedError, match=f"blob {sha[:12]}… does not match"):
            await run_restore(
                DirectoryTarget(dest),
                restored.items,
                restored.blobs,
                worker_recipes=recipes(dest, folder),
                workers=2,
            )
        state = await snapshot(restored)
        [journal] = await restored.items.get_many([journal_key(_backup_id(dest))])
    assert journal is not None  # not done: a re-run resumes it
    listed = {item["id"]: item for item in state["items"].values() if "sha256" in item}
    assert all(item["sha256"] != sha for item in listed.values())  # its file is not there
    for file_id, digest in state["blobs"].items():  # every file that is there has its bytes
        assert listed[file_id]["sha256"] == digest


def _backup_id(dest: Path) -> str:
    [backup] = (dest / "backups").iterdir()
    return backup.name
