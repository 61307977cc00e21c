"""The restore drill (`demobackend drill`): back up the live stores into
``workdir/backup``, verify the backup, restore it into a scratch SQLite store and blob
folder under ``workdir/scratch``, and compare every item and every blob hash with what
the backup holds. The restore's wall time is the measured RTO.

The scratch target is local whatever the source (cross-backend restore is a feature), so
a drill never writes to production. It compares with the backup rather than with the
live store, which keeps changing while the drill runs; the backup itself is checked
against every checksum first.
"""

import hashlib
import json
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from domain.clock import utc_now
from domain.errors import DomainError
from domain.files import counted_usage
from domain.ports import BlobStore, ItemStore
from ops.backup import selection
from ops.backup.backup import run_backup
from ops.backup.crypto import PartCipher
from ops.backup.progress import Progress
from ops.backup.reader import open_backup
from ops.backup.restore import run_restore
from ops.backup.streams import closing
from ops.backup.targets import DirectoryTarget
from ops.backup.verify import verify_backup

MAX_DIFFERENCES = 20
SCRATCH_BASE_URL = "http://127.0.0.1"


@dataclass(frozen=True)
class DrillReport:
    ok: bool
    differences: list[str]
    items: int
    blobs: int
    bytes: int
    backup_seconds: float
    restore_seconds: float  # the measured RTO: restore wall time, search rebuild included
    verify_seconds: float = 0.0
    compare_seconds: float = 0.0
    backup_id: str = ""
    search_documents: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = asdict(self)
        return body


async def run_drill(
    items: ItemStore,
    blobs: BlobStore,
    *,
    workdir: Path,
    encryption_key: bytes | None = None,
    progress: Progress | None = None,
    source: str = "local",
) -> DrillReport:
    from adapters.blobs.local.store import LocalBlobStore
    from adapters.items.sqlite import SqliteItemStore

    cipher = PartCipher(encryption_key) if encryption_key is not None else None
    target = DirectoryTarget(workdir / "backup")
    backed_up = await run_backup(
        items, blobs, target, cipher=cipher, source=source, progress=progress
    )
    backup_id = backed_up.manifest.id
    # Damage found in the live stores fails the drill too: those files cannot be restored.
    source_problems = [f"source: {p}" for p in backed_up.manifest.problems]
    notes = [f"left out: file {d['id']} ({d['reason']})" for d in backed_up.manifest.dropped_files]
    started = time.monotonic()
    verified = await verify_backup(target, cipher, backup_id=backup_id, progress=progress)
    verify_seconds = time.monotonic() - started
    differences = source_problems + [
        f"verify: {problem}"
        for problem in verified.problems
        if not problem.startswith("noted when the backup was taken")
    ]

    scratch = workdir / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)  # the drill's own folder, from a previous run
    scratch_items = SqliteItemStore(scratch / "items.sqlite3")
    scratch_blobs = LocalBlobStore(
        scratch / "blobs", base_url=SCRATCH_BASE_URL, signing_key=secrets.token_bytes(32)
    )
    scratch_blobs.prepare()
    try:
        restored = await run_restore(
            target,
            scratch_items,
            scratch_blobs,
            cipher=cipher,
            backup_id=backup_id,
            progress=progress,
        )
        started = time.monotonic()
        differences += await compare(target, cipher, backup_id, scratch_items, scratch_blobs)
        compare_seconds = time.monotonic() - started
    finally:
        await scratch_items.close()
    shown = differences[:MAX_DIFFERENCES]
    if len(differences) > MAX_DIFFERENCES:
        shown.append(f"… and {len(differences) - MAX_DIFFERENCES} more differences")
    return DrillReport(
        ok=not differences,
        differences=shown,
        items=restored.items,
        blobs=restored.blobs,
        bytes=restored.blob_bytes,
        backup_seconds=backed_up.seconds,
        restore_seconds=restored.seconds,
        verify_seconds=verify_seconds,
        compare_seconds=compare_seconds,
        backup_id=backup_id,
        search_documents=restored.search_documents,
        notes=notes,
    )


async def compare(
    target: DirectoryTarget,
    cipher: PartCipher | None,
    backup_id: str,
    items: ItemStore,
    blobs: BlobStore,
) -> list[str]:
    """Every difference between a backup and a store restored from it: items missing,
    extra or changed (by key only: values may be private), READY files whose bytes are
    missing or hash otherwise than the backup says, documents missing from the index."""
    backup = await open_backup(target, cipher, backup_id)
    expected: dict[tuple[str, str], bytes] = {}
    blob_of: dict[str, str] = {}
    with_meta: set[str] = set()
    async for _, records in backup.item_parts():
        for record in records:
            item = record["item"]
            if selection.is_file_meta(item):
                with_meta.add(str(item["id"]))
            expected[(item["pk"], item["sk"])] = _digest(item)
            if "blob" in record:
                blob_of[str(item["id"])] = record["blob"]
    expected = {
        key: digest
        for key, digest in expected.items()
        if not key[0].startswith(selection.FILE_PREFIX)
        or key[0][len(selection.FILE_PREFIX) :] in with_meta
    }
    differences: list[str] = []
    seen: set[tuple[str, str]] = set()
    ready: list[dict[str, Any]] = []
    indexed = 0
    async with closing(items.scan()) as pages:
        async for page in pages:
            for item in page:
                indexed += item.get("type") == "SearchState"
                if not selection.data_item(item):
                    continue
                key = (item["pk"], item["sk"])
                seen.add(key)
                if key not in expected:
                    differences.append(f"item {key[0]} / {key[1]}: not in the backup")
                elif (owner_id := selection.usage_owner(key)) is not None:
                    # Recounted by the restore, not copied: it must match the restored
                    # files (the backup's may be older-shaped, or read apart from them).
                    if not await _usage_matches(items, owner_id, item):
                        differences.append(
                            f"item {key[0]} / {key[1]}: wrong for the restored files"
                        )
                elif expected[key] != _digest(item):
                    differences.append(f"item {key[0]} / {key[1]}: differs from the backup")
                if selection.is_ready_file(item):
                    ready.append(item)
    differences += [f"item {pk} / {sk}: not restored" for pk, sk in sorted(expected.keys() - seen)]
    # Every READY file and every user is a search document once the index is rebuilt.
    searchable = len(ready) + sum(
        1 for pk, sk in seen if sk == "PROFILE" and pk.startswith("USER#")
    )
    if indexed < searchable:
        differences.append(f"search index: {indexed} of {searchable} documents indexed")
    for item in ready:
        problem = await _check_blob(blobs, item, blob_of.get(str(item["id"])))
        if problem is not None:
            differences.append(problem)
    return differences


async def _check_blob(blobs: BlobStore, item: dict[str, Any], sha: str | None) -> str | None:
    label = f"file {item['id']}"
    if sha is None:
        return f"{label}: READY but the backup holds no bytes for it"
    digest = hashlib.sha256()
    try:
        async with closing(blobs.read(item["blob_key"])) as chunks:
            async for chunk in chunks:
                digest.update(chunk)
    except DomainError:
        return f"{label}: bytes missing after the restore"
    if digest.hexdigest() != sha:
        return f"{label}: restored bytes hash differently from the backup"
    return None


async def _usage_matches(items: ItemStore, owner_id: str, item: dict[str, Any]) -> bool:
    usage = await counted_usage(items, owner_id, utc_now)
    stored = (item.get("used_bytes", 0), item.get("pending_uploads", 0))
    return stored == (usage.used_bytes, usage.pending_uploads)


def _digest(item: dict[str, Any]) -> bytes:
    canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(canonical.encode("utf-8"), digest_size=16).digest()
