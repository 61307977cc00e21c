"""Disaster recovery at scale: restore + search index of ``--files`` files (1M by default)
against the 30-minute RTO, on the local backend (SQLite + blob folder).

The backup is generated directly in the backup format (ops/backup/README.md), not through
the API: ``--files`` READY files with small blobs (``--blob-bytes``, unique per file), one
share item each and a profile per 100 files' owner, the shape bench/backup.py seeds. Then
`run_restore` restores it into an empty SQLite file and blob folder exactly as
`demobackend restore` does: every part verified first, bytes before metadata, the search
index built part by part. The figure is the restore's wall time (the RTO), with the time
spent indexing shown apart; the load average is printed beside it because the machine
may be shared.

Run: `make bench-dr` or
`.venv/bin/python -m bench.dr [--files 1000000] [--workdir DIR] [--workers N]`
(1M files need ~15 GB of disk and ~5M inodes in the work directory, removed afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from domain.clock import to_iso
from domain.files import file_to_item, put_share, usage_key
from domain.models import FileRecord, FileStatus, Visibility
from ops.backup import layout
from ops.backup.backup import write_manifest
from ops.backup.blob_copy import WorkerRecipes
from ops.backup.parts import write_part
from ops.backup.restore import RestoreResult, run_restore
from ops.backup.targets import DirectoryTarget

RTO_TARGET_SECONDS = 30 * 60
NOW = datetime(2026, 11, 1, tzinfo=UTC)
FILES_PER_OWNER = 100


@dataclass(frozen=True)
class DrFigures:
    files: int
    items: int
    generate_seconds: float
    restore: RestoreResult
    cpu_seconds: float  # of the restore: every thread of this process and its workers
    load_before: float
    load_after: float


def _blob(number: int, size: int) -> bytes:
    stem = f"file {number}\n".encode()
    return (stem * (size // len(stem) + 1))[:size] if size >= len(stem) else stem


def _profile(owner: str) -> dict[str, Any]:
    return {
        "pk": f"USER#{owner}",
        "sk": "PROFILE",
        "type": "User",
        "id": owner,
        "username": f"user{owner}",
        "display_name": None,
        "email": None,
        "groups": [],
        "created_at": to_iso(NOW),
        "updated_at": to_iso(NOW),
        "version": 1,
    }


def _file_records(number: int, owners: int, blob: bytes) -> list[dict[str, Any]]:
    sha = hashlib.sha256(blob).hexdigest()
    file_id = f"f{number:08d}"
    record = FileRecord(
        id=file_id,
        owner_id=f"u{number % owners}",
        name=f"file {number}.bin",
        content_type="application/octet-stream",
        size=len(blob),
        sha256=sha,
        status=FileStatus.READY,
        visibility=Visibility.PRIVATE,
        description=None,
        tags=(),
        shared_with=(),
        version=2,
        created_at=NOW,
        updated_at=NOW,
        blob_key=f"files/{file_id}/blob",
    )
    share = put_share(record, "s0", to_iso(NOW)).item
    return [{"item": file_to_item(record), "blob": sha}, {"item": share}]


def _write_blob(root: Path, blob: bytes) -> str:
    sha = hashlib.sha256(blob).hexdigest()
    path = root / layout.blob_name(sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    return sha


async def generate(root: Path, files: int, blob_bytes: int) -> tuple[DirectoryTarget, int]:
    """A complete, unencrypted backup of ``files`` files in ``root``; returns the target
    and the number of items."""
    target = DirectoryTarget(root)
    backup_id = layout.new_backup_id(datetime.now(UTC))
    owners = max(1, files // FILES_PER_OWNER)
    records: list[dict[str, Any]] = [{"item": _profile(f"u{n}")} for n in range(owners)]
    records += [
        {
            "item": {
                "pk": usage_key(f"u{n}").pk,
                "sk": usage_key(f"u{n}").sk,
                "type": "FileUsage",
                "owner_id": f"u{n}",
                "used_bytes": 0,
                "pending_uploads": 0,
            }
        }
        for n in range(owners)
    ]
    item_parts: list[layout.PartEntry] = []
    refs: dict[str, int] = {}
    items = 0

    async def flush(chunk: list[dict[str, Any]]) -> None:
        name = layout.items_part_name(len(item_parts) + 1)
        item_parts.append(await write_part(target, backup_id, name, chunk, None))

    for number in range(files):
        blob = _blob(number, blob_bytes)
        refs[await asyncio.to_thread(_write_blob, root, blob)] = len(blob)
        records += _file_records(number, owners, blob)
        if len(records) >= layout.ITEMS_PER_PART:
            chunk, records = records[: layout.ITEMS_PER_PART], records[layout.ITEMS_PER_PART :]
            items += len(chunk)
            await flush(chunk)
    if records:
        items += len(records)
        await flush(records)
    blob_refs = [{"sha256": s, "size": n, "stored_size": n} for s, n in sorted(refs.items())]
    blob_parts: list[layout.PartEntry] = []
    for start in range(0, len(blob_refs), layout.BLOB_REFS_PER_PART):
        name = layout.blobs_part_name(len(blob_parts) + 1)
        chunk = blob_refs[start : start + layout.BLOB_REFS_PER_PART]
        blob_parts.append(await write_part(target, backup_id, name, chunk, None))
    await target.flush()
    manifest = layout.Manifest(
        id=backup_id,
        created_at=to_iso(NOW),
        finished_at=to_iso(NOW),
        source="local",
        encryption=None,
        item_parts=item_parts,
        blob_parts=blob_parts,
        items=items,
        blobs=len(refs),
        blob_bytes=sum(refs.values()),
        new_blobs=len(refs),
        new_blob_bytes=sum(refs.values()),
    )
    await write_manifest(target, manifest, None)
    return target, items


def _cpu_seconds() -> float:
    # Worker processes count once they have ended, which they have when the restore returns.
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )


async def run(files: int, blob_bytes: int, workdir: Path, workers: int | None) -> DrFigures:
    from adapters.blobs.local.store import LocalBlobStore
    from adapters.items.sqlite import SqliteItemStore

    started = time.monotonic()
    target, items = await generate(workdir / "backup", files, blob_bytes)
    generated = time.monotonic() - started
    store = SqliteItemStore(workdir / "restored" / "items.sqlite3")
    # A recipe, not a store: worker processes open their own (ops/backup/blob_copy.py).
    open_blobs = partial(
        LocalBlobStore,
        workdir / "restored" / "blobs",
        base_url="http://127.0.0.1:9",
        signing_key=b"k" * 32,
    )
    blobs = open_blobs()
    blobs.prepare()
    recipes = WorkerRecipes(partial(DirectoryTarget, target.root), open_blobs)
    load_before = os.getloadavg()[0]
    cpu = _cpu_seconds()
    try:
        restored = await run_restore(
            target, store, blobs, progress=_progress, worker_recipes=recipes, workers=workers
        )
    finally:
        await store.close()
    print(file=sys.stderr)
    return DrFigures(
        files,
        items,
        generated,
        restored,
        _cpu_seconds() - cpu,
        load_before,
        os.getloadavg()[0],
    )


def _progress(phase: str, done: int, total: int | None) -> None:
    print(f"\r{phase} {done}/{total}   ", end="", file=sys.stderr, flush=True)


def report(result: DrFigures) -> str:
    r = result.restore
    met = "met" if r.seconds <= RTO_TARGET_SECONDS else "NOT met"
    return "\n".join(
        [
            f"backup generated: {result.files} files, {result.items} items, "
            f"{result.generate_seconds:.0f} s",
            f"restore: {r.items} items, {r.blobs} blobs, {r.search_documents} documents "
            f"indexed: {r.seconds:.0f} s wall ({r.seconds / 60:.1f} min; of which indexing "
            f"{r.search_seconds:.0f} s, overlapping the bytes), {result.cpu_seconds:.0f} s CPU",
            f"bytes copied by {r.workers or 'no'} worker process(es)"
            + ("" if r.workers else " (in the restoring process)"),
            f"per file: {r.seconds / result.files * 1000:.2f} ms wall, "
            f"{result.cpu_seconds / result.files * 1000:.2f} ms CPU; "
            f"load average {result.load_before:.1f} before, {result.load_after:.1f} after "
            f"({os.cpu_count()} CPUs)",
            f"RTO objective 30 min for 1M files: {r.seconds / RTO_TARGET_SECONDS:.0%} of it "
            f"used by {result.files} files ({met})"
            + (
                ""
                if result.files == 1_000_000
                else f"; linear to 1M files: {r.seconds / result.files * 1e6 / 60:.0f} min"
            ),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--blob-bytes", type=int, default=64)
    parser.add_argument("--workdir", type=Path, help="default: a temporary directory")
    parser.add_argument(
        "--workers",
        type=int,
        help="processes copying the bytes (default: one per CPU; 0: in the restoring process)",
    )
    args = parser.parse_args(argv)
    if args.files < 1 or args.blob_bytes < 1:
        parser.error("--files and --blob-bytes must be at least 1")
    if args.workers is not None and args.workers < 0:
        parser.error("--workers must be 0 or more")
    with tempfile.TemporaryDirectory(prefix="bench-dr-", dir=args.workdir) as tmp:
        result = asyncio.run(run(args.files, args.blob_bytes, Path(tmp), args.workers))
    print(report(result))
    return 0 if result.restore.seconds <= RTO_TARGET_SECONDS or args.files != 1_000_000 else 1


if __name__ == "__main__":
    raise SystemExit(main())
