"""`demobackend verify-backup SRC`: every checksum and every cross-reference of a backup,
reading nothing from the live stores. Problems are collected, not raised, so the operator
sees the whole list; a manifest that cannot be trusted at all raises instead."""

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

from ops.backup import layout
from ops.backup.crypto import PartCipher
from ops.backup.errors import BackupDamagedError, BackupError
from ops.backup.parts import blob_chunks, read_part
from ops.backup.progress import Progress
from ops.backup.reader import BlobRef, OpenedBackup, check_record, open_backup
from ops.backup.streams import closing
from ops.backup.targets import Target

BLOB_CONCURRENCY = 8
MAX_LISTED = 50


@dataclass
class VerifyReport:
    backup_id: str
    items: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify_backup(
    target: Target,
    cipher: PartCipher | None,
    *,
    backup_id: str | None = None,
    progress: Progress | None = None,
) -> VerifyReport:
    backup = await open_backup(target, cipher, backup_id)
    report = VerifyReport(backup.manifest.id)
    try:
        index = await backup.blob_index()
    except BackupDamagedError as exc:
        report.problems.append(str(exc))
        index = {}
    referenced = await _check_items(backup, index, report, progress)
    await _check_blobs(backup, index, referenced, report, progress)
    report.problems.extend(
        f"noted when the backup was taken: {p}" for p in backup.manifest.problems
    )
    return report


async def _check_items(
    backup: OpenedBackup,
    index: dict[str, BlobRef],
    report: VerifyReport,
    progress: Progress | None,
) -> set[str]:
    referenced: set[str] = set()
    parts = backup.manifest.item_parts
    for done, entry in enumerate(parts, start=1):
        try:
            records = await _read(backup, entry)
        except BackupDamagedError as exc:
            report.problems.append(str(exc))
            continue
        report.items += len(records)
        for record in records:
            sha = record.get("blob")
            if sha is None:
                continue
            referenced.add(sha)
            item = record["item"]
            if sha not in index:
                report.problems.append(
                    f"file {item.get('id')}: its blob {sha[:12]}… is not in the blob index"
                )
            elif index[sha].size != item.get("size"):
                report.problems.append(f"file {item.get('id')}: size differs from its blob's")
        if progress is not None:
            progress("verify items", done, len(parts))
    return referenced


async def _read(backup: OpenedBackup, entry: layout.PartEntry) -> list[dict[str, Any]]:
    records = await read_part(backup.target, backup.manifest.id, entry, backup.cipher)
    for record in records:
        check_record(record, entry.name)
    return records


async def _check_blobs(
    backup: OpenedBackup,
    index: dict[str, BlobRef],
    referenced: set[str],
    report: VerifyReport,
    progress: Progress | None,
) -> None:
    stored = await backup.target.list(f"{layout.BLOBS_DIR}/")
    gate = asyncio.Semaphore(BLOB_CONCURRENCY)
    done = 0

    async def one(ref: BlobRef) -> str | None:
        nonlocal done
        async with gate:
            problem = await _check_blob(backup, ref, stored.get(layout.blob_name(ref.sha256)))
        done += 1
        if progress is not None:
            progress("verify blobs", done, len(index))
        return problem

    problems = await asyncio.gather(*(one(ref) for ref in index.values()))
    found = [problem for problem in problems if problem is not None]
    report.problems.extend(found[:MAX_LISTED])
    if len(found) > MAX_LISTED:
        report.problems.append(f"… and {len(found) - MAX_LISTED} more damaged or missing blobs")
    report.blobs = len(index)
    report.blob_bytes = sum(ref.size for ref in index.values())
    unused = set(index) - referenced
    if unused:
        report.problems.append(f"{len(unused)} blob(s) in the index are used by no file")


async def _check_blob(backup: OpenedBackup, ref: BlobRef, stored_size: int | None) -> str | None:
    label = f"blob {ref.sha256[:12]}…"
    if stored_size is None:
        return f"{label}: missing"
    if stored_size != ref.stored_size:
        return f"{label}: {stored_size} bytes stored, {ref.stored_size} expected (truncated?)"
    digest = hashlib.sha256()
    size = 0
    try:
        async with closing(blob_chunks(backup.target, ref.sha256, backup.cipher)) as chunks:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
    except BackupDamagedError as exc:
        return f"{label}: {exc}"
    except BackupError as exc:
        return f"{label}: unreadable ({exc})"
    if digest.hexdigest() != ref.sha256 or size != ref.size:
        return f"{label}: content does not match its SHA-256 (altered or damaged)"
    return None
