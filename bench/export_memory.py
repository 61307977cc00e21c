"""Peak memory of building a data export: 20 MiB of files against 200 MiB.

The archive is streamed from the blob store into the blob store (tar headers, file
chunks, manifest), so building one of ten times the bytes should need about the same
memory. Each size runs in a fresh process on the local backend (SQLite + blob folder):
the files are seeded in one process, the export is built in another through the real
path (exportMyData answers BUILDING, the server's background task builds it), which prints
its peak RSS (ru_maxrss) and its RSS before the build.

Run: `.venv/bin/python -m bench.export_memory [--small-mib 20] [--large-mib 200]`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

MIB = 1024 * 1024
FILE_MIB = 4
USER_ID = "bench-user"


def _chunk(file_index: int, chunk_index: int) -> bytes:
    # Incompressible-looking, reproducible, and cheap: a digest stretched to 1 MiB.
    seed = hashlib.sha256(f"{file_index}/{chunk_index}".encode()).digest()
    return seed * (MIB // len(seed))


async def _chunks(file_index: int) -> AsyncIterator[bytes]:
    for chunk_index in range(FILE_MIB):
        yield _chunk(file_index, chunk_index)


def _settings(data_dir: Path) -> object:
    from api.settings import load_settings

    return load_settings(data_dir=data_dir, export_inline_max_bytes=0)


async def seed(data_dir: Path, mib: int) -> None:
    from api.bootstrap import build_deps
    from domain.files import items as file_items
    from domain.models import FileRecord, FileStatus, Visibility

    deps = build_deps(_settings(data_dir))  # type: ignore[arg-type]
    now = datetime.now(UTC)
    try:
        for index in range(mib // FILE_MIB):
            digest = hashlib.sha256()
            for chunk_index in range(FILE_MIB):
                digest.update(_chunk(index, chunk_index))
            file_id = file_items.new_file_id()
            key = file_items.blob_key_for(file_id)
            await deps.blobs.write(
                key,
                _chunks(index),
                content_type="application/octet-stream",
                sha256=digest.hexdigest(),
            )
            record = FileRecord(
                id=file_id,
                owner_id=USER_ID,
                name=f"file-{index}.bin",
                content_type="application/octet-stream",
                size=FILE_MIB * MIB,
                sha256=digest.hexdigest(),
                status=FileStatus.READY,
                visibility=Visibility.PRIVATE,
                description=None,
                tags=(),
                shared_with=(),
                version=1,
                created_at=now,
                updated_at=now,
                blob_key=key,
            )
            # As createUpload writes them: the export finds its files through the listing.
            await deps.items.write(
                [file_items.put_new_file(record), file_items.put_owned_listing(record)]
            )
    finally:
        await deps.aclose()


async def build(data_dir: Path) -> dict[str, object]:
    from adapters.exports.task_scheduler import TaskExportScheduler
    from api.bootstrap import build_deps
    from domain.models import Principal

    deps = build_deps(_settings(data_dir))  # type: ignore[arg-type]
    accounts, scheduler = deps.services.accounts, deps.export_scheduler
    assert accounts is not None and isinstance(scheduler, TaskExportScheduler)
    before = _rss_kib()
    try:
        viewer = Principal(user_id=USER_ID, username="bench")
        started = await accounts.export_my_data(viewer)
        await scheduler.drain()
        done = await accounts.data_export(viewer, started.id)
    finally:
        await deps.aclose()
    archive = next((data_dir / "blobs").rglob("archive.tar*"), None)
    return {
        "started": started.status,
        "status": done.status,
        "rss_before_mib": round(before / 1024, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "archive_mib": round(archive.stat().st_size / MIB, 1) if archive else None,
    }


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(mib: int, workdir: Path) -> dict[str, object]:
    """Seed ``mib`` MiB of files, build their export in a fresh process: its figures."""
    data_dir = workdir / f"data-{mib}"
    run = [sys.executable, "-m", "bench.export_memory"]
    subprocess.run([*run, "--seed", str(data_dir), "--mib", str(mib)], check=True)
    built = subprocess.run(
        [*run, "--build", str(data_dir)], check=True, capture_output=True, text=True
    )
    figures: dict[str, object] = json.loads(built.stdout.strip().splitlines()[-1])
    return {"files_mib": mib, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small-mib", type=int, default=20)
    parser.add_argument("--large-mib", type=int, default=200)
    parser.add_argument("--seed", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--mib", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        asyncio.run(seed(args.seed, args.mib))
        return
    if args.build:
        print(json.dumps(asyncio.run(build(args.build))))
        return
    with tempfile.TemporaryDirectory(prefix="export-memory-") as workdir:
        for mib in (args.small_mib, args.large_mib):
            print(json.dumps(measure(mib, Path(workdir))), flush=True)


if __name__ == "__main__":
    main()
