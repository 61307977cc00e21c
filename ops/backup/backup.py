"""`demobackend backup DEST`: every item and every READY file's bytes, into a directory or
an S3 prefix (layout.py), consistent although the scan is not a snapshot.

Consistency: items are scanned page by page while writes go on. For each READY file seen,
its bytes are copied by the SHA-256 its metadata records (blobs are confirmed before a file
becomes READY, and a READY file's bytes never change), so every READY file in the backup
has its bytes, and they match. A READY file whose bytes vanish mid-backup was deleted
concurrently (the metadata is read again to be sure): it is left out and listed under
``dropped_files``; if its metadata is still there, the store has lost the bytes, which
is listed under ``problems`` (and the file is left out too). Restore drops share items
whose file is not in the backup.

Incremental: blobs are content-addressed and shared by every backup in DEST; one that is
already there (and of the right size) is neither read nor written again. Resumable: a
re-run after an interruption starts a new backup id, rescans the items (cheap) and
copies only the blobs not yet there.
"""

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from domain.clock import Clock, to_iso, utc_now
from domain.errors import NotFoundError
from domain.ports import BlobStore, Item, ItemStore, Key
from ops.backup import layout, selection
from ops.backup.crypto import CHUNK_BYTES, CIPHER_NAME, PartCipher, sealed_size
from ops.backup.parts import write_part
from ops.backup.progress import Progress
from ops.backup.streams import closing
from ops.backup.targets import Target

BLOB_CONCURRENCY = 8
SCAN_PAGE = 500


@dataclass
class BackupResult:
    manifest: layout.Manifest
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.manifest.problems


class _HashMismatchError(Exception):
    pass


@dataclass
class _Run:
    items: ItemStore
    blobs: BlobStore
    target: Target
    cipher: PartCipher | None
    backup_id: str
    existing: dict[str, int]  # blob name -> stored size, already in DEST
    progress: Progress | None
    gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(BLOB_CONCURRENCY))
    used: dict[str, int] = field(default_factory=dict)  # sha256 -> plaintext size
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    new_blobs: int = 0
    new_bytes: int = 0
    dropped: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def stored_size(self, size: int) -> int:
        return sealed_size(size) if self.cipher is not None else size

    def present(self, sha256: str, size: int) -> bool:
        return self.existing.get(layout.blob_name(sha256)) == self.stored_size(size)


async def run_backup(
    items: ItemStore,
    blobs: BlobStore,
    target: Target,
    *,
    cipher: PartCipher | None = None,
    source: str = "local",
    progress: Progress | None = None,
    clock: Clock = utc_now,
    items_per_part: int = layout.ITEMS_PER_PART,
    scan_page: int = SCAN_PAGE,
) -> BackupResult:
    started_at = clock()
    started = time.monotonic()
    backup_id = layout.new_backup_id(started_at)
    existing = await target.list(f"{layout.BLOBS_DIR}/")
    run = _Run(items, blobs, target, cipher, backup_id, existing, progress)
    skipped: dict[str, int] = {}
    now_epoch = int(started_at.timestamp())
    item_parts: list[layout.PartEntry] = []
    pending: list[dict[str, Any]] = []
    total = 0
    async with closing(items.scan(page_size=scan_page)) as pages:
        async for page in pages:
            kept: list[Item] = []
            for item in page:
                reason = selection.skip_reason(item, now_epoch)
                if reason is None:
                    kept.append(selection.without_upload_handle(item))
                else:
                    skipped[reason] = skipped.get(reason, 0) + 1
            pending += await _records(run, kept)
            while len(pending) >= items_per_part:
                chunk, pending = pending[:items_per_part], pending[items_per_part:]
                item_parts.append(await _flush(run, len(item_parts) + 1, chunk))
            total += len(page)
            if progress is not None:
                progress("backup items", total, None)
    if pending or not item_parts:
        item_parts.append(await _flush(run, len(item_parts) + 1, pending))
    blob_parts = await _write_blob_index(run)
    await target.flush()
    manifest = layout.Manifest(
        id=backup_id,
        created_at=to_iso(started_at),
        finished_at=to_iso(clock()),
        source=source,
        encryption=_encryption(cipher),
        item_parts=item_parts,
        blob_parts=blob_parts,
        items=sum(part.records for part in item_parts),
        blobs=len(run.used),
        blob_bytes=sum(run.used.values()),
        new_blobs=run.new_blobs,
        new_blob_bytes=run.new_bytes,
        skipped=skipped,
        dropped_files=run.dropped,
        problems=run.problems,
    )
    await write_manifest(target, manifest, cipher)
    return BackupResult(manifest, time.monotonic() - started)


async def write_manifest(
    target: Target, manifest: layout.Manifest, cipher: PartCipher | None
) -> None:
    body = manifest.to_json()
    await target.write(layout.backup_path(manifest.id, layout.MANIFEST), _one(body))
    checksum = {"sha256": hashlib.sha256(body).hexdigest()}
    if cipher is not None:
        checksum["hmac_sha256"] = cipher.mac(body)
    text = "".join(f"{name} {value}\n" for name, value in sorted(checksum.items()))
    await target.flush()
    # Written last: its presence is what marks the backup complete.
    await target.write(
        layout.backup_path(manifest.id, layout.MANIFEST_CHECKSUM), _one(text.encode())
    )
    await target.flush()


def _encryption(cipher: PartCipher | None) -> dict[str, Any] | None:
    if cipher is None:
        return None
    return {"cipher": CIPHER_NAME, "chunk_bytes": CHUNK_BYTES, "key_id": cipher.key_id}


async def _flush(run: _Run, number: int, records: list[dict[str, Any]]) -> layout.PartEntry:
    name = layout.items_part_name(number)
    return await write_part(run.target, run.backup_id, name, records, run.cipher)


async def _records(run: _Run, items: list[Item]) -> list[dict[str, Any]]:
    """One record per item kept; READY files get their blob's SHA-256 (bytes copied)."""
    ready = [item for item in items if selection.is_ready_file(item)]
    shas = await asyncio.gather(*(_copy_blob(run, item) for item in ready))
    blob_of = {id(item): sha for item, sha in zip(ready, shas, strict=True)}
    records: list[dict[str, Any]] = []
    for item in items:
        if id(item) not in blob_of:
            records.append({"item": item})
        elif (sha := blob_of[id(item)]) is not None:
            records.append({"item": item, "blob": sha})
    return records


async def _copy_blob(run: _Run, item: Item) -> str | None:
    """The SHA-256 of the file's bytes, now in DEST; None when the file is left out."""
    key, size = item.get("blob_key"), item.get("size")
    if not isinstance(key, str) or not isinstance(size, int):
        run.problems.append(f"file {item.get('id')}: malformed metadata (left out)")
        return None
    async with run.gate:
        try:
            sha = item.get("sha256")
            if not layout.is_sha256(sha):
                sha = await _hash_blob(run.blobs, key)
            assert isinstance(sha, str)
            # Files sharing their bytes copy them once: the first holds the lock.
            async with run.locks.setdefault(sha, asyncio.Lock()):
                if not run.present(sha, size):
                    stored = await _store_blob(run, key, sha)
                    run.existing[layout.blob_name(sha)] = stored
                    run.new_blobs += 1
                    run.new_bytes += size
        except NotFoundError:
            await _missing(run, item)
            return None
        except _HashMismatchError:
            run.problems.append(
                f"file {item['id']}: stored bytes do not match its SHA-256 (left out)"
            )
            return None
    run.used[sha] = size
    return sha


async def _hash_blob(blobs: BlobStore, key: str) -> str:
    digest = hashlib.sha256()
    async with closing(blobs.read(key)) as chunks:
        async for chunk in chunks:
            digest.update(chunk)
    return digest.hexdigest()


async def _store_blob(run: _Run, key: str, sha256: str) -> int:
    name = layout.blob_name(sha256)
    async with closing(_checked(run.blobs.read(key), sha256)) as plain:
        chunks = plain if run.cipher is None else run.cipher.seal_stream(plain, name)
        return await run.target.write(name, chunks)


async def _checked(chunks: AsyncIterator[bytes], sha256: str) -> AsyncIterator[bytes]:
    """Passes the bytes on; raises at the end (so the write is abandoned) on a mismatch."""
    digest = hashlib.sha256()
    async with closing(chunks):
        async for chunk in chunks:
            digest.update(chunk)
            yield chunk
    if digest.hexdigest() != sha256:
        raise _HashMismatchError


async def _missing(run: _Run, item: Item) -> None:
    """The bytes of a READY file vanished: deleted meanwhile, or lost by the store."""
    [now] = await run.items.get_many([Key(item["pk"], item["sk"])])
    if now is None or not selection.is_ready_file(now):
        run.dropped.append({"id": str(item.get("id")), "reason": "deleted during the backup"})
    else:
        run.problems.append(f"file {item.get('id')}: READY but its bytes are missing (left out)")


async def _write_blob_index(run: _Run) -> list[layout.PartEntry]:
    refs = [
        {"sha256": sha, "size": size, "stored_size": run.stored_size(size)}
        for sha, size in sorted(run.used.items())
    ]
    parts: list[layout.PartEntry] = []
    for start in range(0, len(refs), layout.BLOB_REFS_PER_PART):
        name = layout.blobs_part_name(len(parts) + 1)
        chunk = refs[start : start + layout.BLOB_REFS_PER_PART]
        parts.append(await write_part(run.target, run.backup_id, name, chunk, run.cipher))
    return parts


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data
