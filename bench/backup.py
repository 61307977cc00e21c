"""Backup and restore: throughput and the restore time (RTO) against the seed's 30 min.

Three runs, each on stores seeded directly (items put in batches, bytes through
``BlobStore.write``; no search index, which restore rebuilds anyway):

- **local**: ``--files`` READY files (``--blob-bytes`` random bytes each, plus their
  metadata, one share item each and the owners' profiles) in SQLite + a blob folder;
  backed up into a directory, restored into a fresh SQLite + folder;
- **moto**: the same files in DynamoDB + S3 served by moto over HTTP on 127.0.0.1 (one
  process, no network latency, single-threaded writes: moto's TransactWriteItems is not
  safe to run concurrently); backed up into a directory, restored into a fresh table and
  bucket *without* the search rebuild (moto deep-copies the whole table on every
  transaction, so indexing there is quadratic in the table size; the local runs measure
  the rebuild). moto's speed is not AWS's: these figures show the code path's own cost;
- **local 100k items**: ``--big-items`` items (a quarter of them READY files with bytes,
  the rest share items) restored locally: the seed's target is well under 30 minutes.

Restore time includes verifying every part and indexing for search (shown apart; it
overlaps the writing of the next part's bytes). The 1M-file RTO is extrapolated linearly
from the local restore's time per file; bench/dr.py (`make bench-dr`) measures it.

Run: `.venv/bin/python -m bench.backup [--files 10000] [--moto-files 10000]
[--big-items 100000] [--blob-bytes 1024] [--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import os
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.figures import Figure, fmt
from domain.files import file_to_item, put_share, usage_key
from domain.models import FileRecord, FileStatus, Visibility
from domain.ports import MAX_WRITE_ITEMS, BlobStore, Item, ItemStore, Put
from ops.backup.backup import run_backup
from ops.backup.restore import run_restore
from ops.backup.targets import DirectoryTarget

RTO_TARGET_SECONDS = 30 * 60
MB = 1024 * 1024
NOW = datetime(2026, 11, 1, tzinfo=UTC)
COMMAND = ".venv/bin/python -m bench.backup"


@dataclass(frozen=True)
class RunFigures:
    name: str
    files: int
    items: int
    blob_bytes: int
    backup_seconds: float
    restore_seconds: float
    search_seconds: float

    @property
    def backup_items_per_s(self) -> float:
        return self.items / self.backup_seconds

    @property
    def restore_items_per_s(self) -> float:
        return self.items / self.restore_seconds

    @property
    def backup_mb_per_s(self) -> float:
        return self.blob_bytes / MB / self.backup_seconds

    @property
    def restore_mb_per_s(self) -> float:
        return self.blob_bytes / MB / self.restore_seconds

    def rto_for(self, files: int) -> float:
        return self.restore_seconds / self.files * files


@dataclass(frozen=True)
class BackupBenchResult:
    runs: list[RunFigures]


# --- seeding --------------------------------------------------------------------------


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


PutItems = Callable[[list[Item]], Awaitable[None]]


def port_writer(items: ItemStore) -> PutItems:
    async def put(batch: list[Item]) -> None:
        for start in range(0, len(batch), MAX_WRITE_ITEMS):
            await items.write([Put(item) for item in batch[start : start + MAX_WRITE_ITEMS]])

    return put


def moto_writer(client: Any, table: str) -> PutItems:
    """BatchWriteItem straight to moto: its TransactWriteItems (what the port uses) copies
    the whole table on every call, so seeding 20k items through it would take hours."""
    from adapters.items.dynamodb.codec import to_attributes

    async def put(batch: list[Item]) -> None:
        for start in range(0, len(batch), 25):
            requests = [
                {"PutRequest": {"Item": to_attributes(item)}} for item in batch[start : start + 25]
            ]
            await asyncio.to_thread(client.batch_write_item, RequestItems={table: requests})

    return put


async def seed(
    put_items: PutItems, blobs: BlobStore, *, files: int, extra_shares: int, blob_bytes: int
) -> int:
    """``files`` READY files with bytes, ``extra_shares`` share items spread over them, a
    profile per owner; returns the number of items."""
    owners = max(1, files // 100)
    batch: list[Item] = []
    count = 0

    async def flush() -> None:
        nonlocal batch, count
        if batch:
            await put_items(batch)
            count += len(batch)
            batch = []

    gate = asyncio.Semaphore(8)

    async def put_blob(key: str, data: bytes, sha: str) -> None:
        async with gate:
            await blobs.write(key, _one(data), content_type="application/octet-stream", sha256=sha)

    for owner in range(owners):
        batch.append(
            {
                "pk": f"USER#u{owner}",
                "sk": "PROFILE",
                "type": "User",
                "id": f"u{owner}",
                "username": f"user{owner}",
                "display_name": None,
                "email": None,
                "groups": [],
                "created_at": "2026-11-01T00:00:00.000000Z",
                "updated_at": "2026-11-01T00:00:00.000000Z",
                "version": 1,
            }
        )
    shares_per_file = -(-extra_shares // files) if files else 0
    uploads = []
    for number in range(files):
        data = os.urandom(blob_bytes)
        sha = hashlib.sha256(data).hexdigest()
        file_id = f"f{number:08d}"
        record = FileRecord(
            id=file_id,
            owner_id=f"u{number % owners}",
            name=f"file {number}.bin",
            content_type="application/octet-stream",
            size=blob_bytes,
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
        batch.append(file_to_item(record))
        for share in range(min(shares_per_file, extra_shares - number * shares_per_file)):
            batch.append(put_share(record, f"s{share}", "2026-11-01T00:00:00.000000Z").item)
        uploads.append(put_blob(record.blob_key, data, sha))
        if len(batch) >= MAX_WRITE_ITEMS - shares_per_file - 1:
            await flush()
        if len(uploads) >= 256:
            await asyncio.gather(*uploads)
            uploads = []
    for owner in range(owners):
        key = usage_key(f"u{owner}")
        batch.append(
            {
                "pk": key.pk,
                "sk": key.sk,
                "type": "FileUsage",
                "owner_id": f"u{owner}",
                "used_bytes": 0,
                "pending_uploads": 0,
            }
        )
        if len(batch) >= MAX_WRITE_ITEMS:
            await flush()
    await flush()
    await asyncio.gather(*uploads)
    return count


# --- stores ---------------------------------------------------------------------------


async def _local(stack: AsyncExitStack, folder: Path) -> tuple[ItemStore, BlobStore]:
    from adapters.blobs.local.store import LocalBlobStore
    from adapters.items.sqlite import SqliteItemStore

    items = SqliteItemStore(folder / "items.sqlite3")
    stack.push_async_callback(items.close)
    blobs = LocalBlobStore(
        folder / "blobs", base_url="http://127.0.0.1:9", signing_key=secrets.token_bytes(32)
    )
    blobs.prepare()
    return items, blobs


def _moto(endpoint: str) -> tuple[ItemStore, BlobStore, PutItems]:
    import boto3
    from botocore.config import Config

    from adapters.blobs.s3 import S3BlobStore
    from adapters.items.dynamodb.store import DynamoDbItemStore
    from ops.aws_resources import create_table

    def client(service: str, config: Config) -> object:
        return boto3.client(
            service,  # type: ignore[call-overload]
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            config=config,
        )

    name = f"bench-{secrets.token_hex(4)}"
    dynamodb = client("dynamodb", Config(max_pool_connections=32))
    create_table(dynamodb, name)  # type: ignore[arg-type]
    s3 = client(
        "s3",
        Config(signature_version="s3v4", s3={"addressing_style": "path"}, max_pool_connections=32),
    )
    s3.create_bucket(Bucket=name)  # type: ignore[attr-defined]
    store = DynamoDbItemStore(dynamodb, name)  # type: ignore[arg-type]
    return store, S3BlobStore(s3, name), moto_writer(dynamodb, name)  # type: ignore[arg-type]


# --- runs -----------------------------------------------------------------------------


async def _measure_local(name: str, files: int, shares: int, blob_bytes: int) -> RunFigures:
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
        async with AsyncExitStack() as stack:
            items, blobs = await _local(stack, Path(tmp) / "source")
            count = await seed(
                port_writer(items), blobs, files=files, extra_shares=shares, blob_bytes=blob_bytes
            )
            target = DirectoryTarget(Path(tmp) / "backup")
            backed_up = await run_backup(items, blobs, target)
            restored_items, restored_blobs = await _local(stack, Path(tmp) / "restored")
            restored = await run_restore(target, restored_items, restored_blobs)
    return RunFigures(
        name,
        files,
        count,
        files * blob_bytes,
        backed_up.seconds,
        restored.seconds,
        restored.search_seconds,
    )


async def _measure_moto(files: int, restore_files: int, blob_bytes: int) -> list[RunFigures]:
    """Backup of ``files`` files out of moto; backup and restore of ``restore_files`` into
    moto (its transactions slow down with the table's size: see moto_writer)."""
    from tests.support.moto_server import moto_server

    runs = []
    with moto_server() as endpoint, tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
        for size, restore in ((files, False), (restore_files, True)):
            if not size:
                continue
            items, blobs, put = _moto(endpoint)
            count = await seed(put, blobs, files=size, extra_shares=size, blob_bytes=blob_bytes)
            target = DirectoryTarget(Path(tmp) / f"backup-{size}-{restore}")
            backed_up = await run_backup(items, blobs, target, source="aws")
            restore_seconds = search_seconds = float("nan")
            if restore:
                restored_items, restored_blobs, _ = _moto(endpoint)
                # No search rebuild here: it is quadratic on moto (the local runs measure it).
                restored = await run_restore(
                    target, restored_items, restored_blobs, concurrency=1, rebuild_index=False
                )
                restore_seconds, search_seconds = restored.seconds, restored.search_seconds
            runs.append(
                RunFigures(
                    f"moto {size} files",
                    size,
                    count,
                    size * blob_bytes,
                    backed_up.seconds,
                    restore_seconds,
                    search_seconds,
                )
            )
    return runs


async def run(
    files: int, moto_files: int, moto_restore_files: int, big_items: int, blob_bytes: int
) -> BackupBenchResult:
    runs = [await _measure_local("local", files, files, blob_bytes)]
    runs += await _measure_moto(moto_files, moto_restore_files, blob_bytes)
    if big_items:
        big_files = big_items // 4
        runs.append(
            await _measure_local(
                "local 100k items" if big_items == 100_000 else f"local {big_items} items",
                big_files,
                big_items - big_files - max(1, big_files // 100) * 2,
                blob_bytes,
            )
        )
    return BackupBenchResult(runs)


def measure(
    files: int, moto_files: int, moto_restore_files: int, big_items: int, blob_bytes: int
) -> BackupBenchResult:
    return asyncio.run(run(files, moto_files, moto_restore_files, big_items, blob_bytes))


# --- output ---------------------------------------------------------------------------


def report(result: BackupBenchResult) -> str:
    lines = [
        f"{'run':18s} {'files':>7s} {'items':>7s} {'MB':>6s}  {'backup':>8s} {'items/s':>8s} "
        f"{'MB/s':>6s}  {'restore':>8s} {'items/s':>8s} {'MB/s':>6s} {'(search)':>9s}"
    ]
    for r in result.runs:
        lines.append(
            f"{r.name:18s} {r.files:7d} {r.items:7d} {r.blob_bytes / MB:6.1f}  "
            f"{r.backup_seconds:7.1f}s {r.backup_items_per_s:8.0f} {r.backup_mb_per_s:6.2f}  "
            f"{r.restore_seconds:7.1f}s {r.restore_items_per_s:8.0f} {r.restore_mb_per_s:6.2f} "
            f"{r.search_seconds:8.1f}s"
        )
    for r in result.runs:
        if not r.name.startswith("moto"):
            lines.append(
                f"extrapolated RTO for 1M files ({r.name}): {r.rto_for(1_000_000) / 60:.0f} min"
                " (`make bench-dr` measures it)"
            )
    big = max((r for r in result.runs if not r.name.startswith("moto")), key=lambda r: r.items)
    lines.append(
        f"restore of {big.items} items ({big.name}): {big.restore_seconds:.0f} s = "
        f"{big.restore_seconds / RTO_TARGET_SECONDS:.1%} of the 30-minute RTO"
    )
    return "\n".join(lines)


def figures(result: BackupBenchResult, command: str = COMMAND) -> list[Figure]:
    out: list[Figure] = []
    for r in result.runs:
        out.append(
            Figure(
                f"backup {r.name}: items/s",
                f"{r.files} files, {r.items} items, {fmt(r.blob_bytes / MB, 'MB')}",
                command,
                r.backup_items_per_s,
                "items/s",
                higher_is_better=True,
            )
        )
        if math.isnan(r.restore_seconds):
            continue  # a backup-only run
        search = "without search rebuild" if r.name.startswith("moto") else "search rebuild incl."
        out += [
            Figure(
                f"restore {r.name}: items/s",
                f"verify + write, {search}",
                command,
                r.restore_items_per_s,
                "items/s",
                higher_is_better=True,
            ),
            Figure(
                f"restore {r.name}: wall time (RTO)",
                f"{r.items} items, {fmt(r.blob_bytes / MB, 'MB')}, {search}",
                command,
                r.restore_seconds,
                "s",
                target=RTO_TARGET_SECONDS,
            ),
        ]
    local = result.runs[0]
    out.append(
        Figure(
            "restore RTO for 1M files (extrapolated)",
            f"local restore time per file ({local.files} files) x 1M",
            command,
            local.rto_for(1_000_000) / 60,
            "min",
            target=RTO_TARGET_SECONDS / 60,
            note="linear extrapolation",
        )
    )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--moto-files", type=int, default=10_000, help="0 skips the moto run")
    parser.add_argument(
        "--moto-restore-files", type=int, default=500, help="restore into moto (0 skips)"
    )
    parser.add_argument("--big-items", type=int, default=100_000, help="0 skips the 100k run")
    parser.add_argument("--blob-bytes", type=int, default=1024)
    parser.add_argument("--quick", action="store_true", help="small sizes, for the suite")
    args = parser.parse_args(argv)
    if args.quick:
        args.files, args.moto_files, args.moto_restore_files, args.big_items = (
            1000,
            500,
            100,
            10_000,
        )
    started = time.monotonic()
    result = measure(
        args.files, args.moto_files, args.moto_restore_files, args.big_items, args.blob_bytes
    )
    print(report(result))
    print(f"(bench took {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
