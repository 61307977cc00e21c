"""`demobackend restore SRC`: a backup into the configured store (either backend, from a
backup taken on either), then the search index rebuilt from the restored metadata.

- Empty target only: any item there makes it refuse, unless forced (then items of the
  backup replace items with the same key; others stay).
- Every part is verified before anything is written: a first pass reads and checks every
  item part (and learns which files have metadata: share items of files the backup does
  not hold are dropped), a second pass writes. A READY file's bytes are written (and their
  SHA-256 checked by the blob store) before its metadata, so a restored READY file always
  has its bytes.
- Atomic per item (puts of up to 100 items per write) and idempotent: items are put
  without conditions, so re-writing one after an interruption is harmless.
- Listing items (domain/files/listings.py) are not in a backup: each part's are written
  with its items, derived from the metas and shares it restores.
- Usage recounted at the end (domain/files/recount.py): a backup's usage items may be of
  the older shape, or out of step with its files (items are read one page at a time
  while users keep writing), and quota must count what was restored.
- Resumable: a journal item (``RESTORE#<backup id>``) in the target records the parts
  done; a re-run of the same backup finds it, skips those parts and carries on (no --force
  needed). It is deleted when the restore completes.
- Bytes in worker processes (blob_copy.py) when the caller gives recipes for them and
  ``workers`` > 0: the one SQLite writer stays here, the bytes use the other cores. A
  part's metadata still waits for all of its bytes.
"""

import asyncio
import os
import time
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from domain.clock import utc_now
from domain.files import listing_items_of, recount_all_usage
from domain.ports import (
    MAX_WRITE_ITEMS,
    Absent,
    BlobStore,
    Delete,
    IdentityAccounts,
    Item,
    ItemStore,
    Key,
    Put,
)
from domain.search.reindex import mark_rebuilding, rebuilt
from ops.backup import selection
from ops.backup.blob_copy import BlobJob, BlobWorkers, WorkerRecipes, copy_blobs
from ops.backup.crypto import PartCipher
from ops.backup.errors import BackupDamagedError, BackupError, RestoreTargetNotEmptyError
from ops.backup.owners import (
    IDENTITY_PREFIXES,
    OwnerRewriter,
    Unmapped,
    UnmappedUsersError,
    UserCensus,
    UserMap,
    map_users,
)
from ops.backup.progress import Progress
from ops.backup.reader import BlobRef, OpenedBackup, open_backup
from ops.backup.search import index_restored, rebuild_search
from ops.backup.streams import closing
from ops.backup.targets import Target

WRITE_CONCURRENCY = 4
JOURNAL_SK = "JOURNAL"


@dataclass(frozen=True)
class RestoreResult:
    backup_id: str
    items: int
    blobs: int
    blob_bytes: int
    orphans_skipped: int
    search_documents: int
    resumed: bool
    seconds: float  # wall time of the whole restore: the RTO
    search_seconds: float = 0.0  # of which: indexing for search
    usage_owners: int = 0  # users whose usage was recounted
    # With owners mapped by username (owners.py): users mapped, and users left out.
    users_mapped: int = 0
    users_left_out: tuple[Unmapped, ...] = ()
    deleted_users: int = 0  # accounts being deleted in the backup: left out
    items_left_out: int = 0  # theirs, and the dev IdP's own items
    workers: int = 0  # processes that copied the bytes (0: the restore's own)


def journal_key(backup_id: str) -> Key:
    return Key(f"{selection.JOURNAL_PREFIX}{backup_id}", JOURNAL_SK)


async def run_restore(
    source: Target,
    items: ItemStore,
    blobs: BlobStore,
    *,
    cipher: PartCipher | None = None,
    backup_id: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
    concurrency: int = WRITE_CONCURRENCY,
    rebuild_index: bool = True,
    map_users_to: IdentityAccounts | None = None,
    skip_unmapped: bool = False,
    worker_recipes: WorkerRecipes | None = None,
    workers: int | None = None,
) -> RestoreResult:
    """``concurrency`` bounds item writes in flight (1 for moto's DynamoDB, see search.py).
    ``rebuild_index=False`` leaves the search index to a later `demobackend reindex` (for
    benchmarks on moto, which copies the whole table on every transaction).
    ``map_users_to``: give every file, share and profile to the user of the same username
    in this identity provider (owners.py); UnmappedUsersError, before anything is written,
    for users it does not hold exactly once, unless ``skip_unmapped`` leaves them out.
    ``worker_recipes``: how worker processes open the source and the blob store, to copy
    the bytes in ``workers`` processes (default: one per CPU; 0: in this process, as
    without recipes)."""
    started = time.monotonic()
    backup = await open_backup(source, cipher, backup_id)
    key = journal_key(backup.manifest.id)
    [journal] = await items.get_many([key])
    resumed = journal is not None
    mapping = map_users_to is not None
    if journal is None:
        if not force and await has_items(items, ignore_identities=mapping):
            raise RestoreTargetNotEmptyError(
                "the target store is not empty; restore into an empty one, or pass --force "
                "to write the backup over what is there"
            )
    done: set[str] = set(journal.get("parts") or ()) if journal is not None else set()
    # Each part's documents are indexed as it is written, unless the index is deferred; a
    # resumed restore whose parts so far were not indexed with them rebuilds it at the end.
    per_part = rebuild_index and (journal is None or journal.get("indexed") is True)
    # Every part is checked before the target is touched at all, and every user mapped.
    index = await backup.blob_index()
    census = UserCensus() if mapping else None
    with_meta = await _files_with_meta(backup, progress, census)
    user_map: UserMap | None = None
    rewriter: OwnerRewriter | None = None
    if map_users_to is not None and census is not None:
        user_map = await map_users(census, map_users_to)
        if user_map.unmapped and not skip_unmapped:
            raise UnmappedUsersError(user_map.unmapped)
        rewriter = OwnerRewriter(user_map, census.file_owners)
        with_meta = {file_id for file_id in with_meta if rewriter.keeps_file(file_id)}
        # Every item rewritten once without writing: an item the mapping cannot rewrite
        # stops the restore here, not half-way through a migration.
        async for _, records in backup.item_parts():
            _rewritten(rewriter, records)
    mapped_as = user_map.digest() if user_map is not None else None
    if journal is not None and journal.get("user_map") != mapped_as:
        raise BackupError(
            "this restore began with another mapping of users (or without one); run it "
            "again as it began, or restore into an empty store"
        )
    if journal is None:
        await items.write([Put(_journal_item(key, done, per_part, mapped_as), condition=Absent())])
    # Search answers INDEX_REBUILDING until the index is complete: here, or by `reindex`.
    await mark_rebuilding(items)
    counts = {"items": 0, "blobs": 0, "bytes": 0, "orphans": 0, "left_out": 0}
    indexed = {"documents": 0, "seconds": 0.0}

    async def finish(name: str, restored: list[Item]) -> None:
        # Listing items with the part, not after the last: a resumed restore has them for
        # the parts done, and without them no restored file would be listed.
        listings = [listing for item in restored for listing in listing_items_of(item)]
        await _put_items(items, restored + listings, concurrency)
        counts["items"] += len(restored)
        if per_part:
            started_index = time.monotonic()
            found = await index_restored(items, restored, concurrency=concurrency)
            indexed["documents"] += found
            indexed["seconds"] += time.monotonic() - started_index
        done.add(name)
        await items.write([Put(_journal_item(key, done, per_part, mapped_as))])

    # A pipeline of two stages: a part's bytes are written while the part before it has its
    # items written and indexed (the bytes are disk and hashing, the index is CPU and the
    # SQLite writer), so a part's metadata still follows its own bytes.
    tail: Coroutine[Any, Any, None] | None = None
    parts = backup.manifest.item_parts
    number = 0
    count = (os.cpu_count() or 1) if workers is None else workers
    async with AsyncExitStack() as stack:
        pool = (
            await stack.enter_async_context(
                BlobWorkers(worker_recipes, backup.cipher, workers=count)
            )
            if worker_recipes is not None and count > 0
            else None
        )

        async def copy(jobs: list[BlobJob]) -> None:
            check = resumed or force
            if pool is not None:
                copied = await pool.copy(jobs, check=check)
            else:
                copied = await copy_blobs(backup.target, blobs, backup.cipher, jobs, check=check)
            counts["blobs"] += copied.blobs
            counts["bytes"] += copied.bytes

        try:
            async for entry, records in backup.item_parts():
                number += 1
                if entry.name not in done:
                    if rewriter is not None:
                        records, left_out = _rewritten(rewriter, records)
                        counts["left_out"] += left_out
                    kept = [r for r in records if _belongs(r["item"], with_meta)]
                    counts["orphans"] += len(records) - len(kept)
                    await _together(
                        copy(_blob_jobs(kept, index)),
                        *([tail] if tail is not None else []),
                    )
                    tail = finish(entry.name, [r["item"] for r in kept])
                if progress is not None:
                    progress("restore items", number, len(parts))
            if tail is not None:
                await tail
        finally:
            if tail is not None:
                tail.close()  # a part whose bytes failed: its items are never written
    # Usage counters follow the restored files, whatever shape the backup's were in.
    usage = await recount_all_usage(items, utc_now)
    documents, search_seconds = int(indexed["documents"]), float(indexed["seconds"])
    if rebuild_index and not per_part:
        indexing = time.monotonic()
        documents = await rebuild_search(
            items, _phase(progress, "rebuild search"), concurrency=concurrency
        )
        search_seconds += time.monotonic() - indexing
    if rebuild_index:
        await rebuilt(items)
    await items.write([Delete(key)])
    return RestoreResult(
        backup.manifest.id,
        counts["items"],
        counts["blobs"],
        counts["bytes"],
        counts["orphans"],
        documents,
        resumed,
        time.monotonic() - started,
        search_seconds,
        usage.owners,
        len(user_map.targets) if user_map is not None else 0,
        tuple(user_map.unmapped) if user_map is not None else (),
        len(user_map.deleted) if user_map is not None else 0,
        counts["left_out"],
        count if worker_recipes is not None else 0,
    )


async def has_items(items: ItemStore, *, ignore_identities: bool = False) -> bool:
    """Whether the store holds any data item (a restore journal does not count; with
    ``ignore_identities``, neither do the dev IdP's users a mapped restore maps onto)."""
    ignored = (selection.JOURNAL_PREFIX, *(IDENTITY_PREFIXES if ignore_identities else ()))
    async with closing(items.scan(page_size=25)) as pages:
        async for page in pages:
            if any(not str(i.get("pk")).startswith(ignored) for i in page):
                return True
    return False


def _journal_item(key: Key, done: set[str], indexed: bool, user_map: str | None) -> Item:
    """``indexed``: the parts done were indexed as they were written. ``user_map``: the
    digest of the users' mapping, so a resumed restore maps them as it began."""
    return {
        "pk": key.pk,
        "sk": key.sk,
        "type": "RestoreJournal",
        "parts": sorted(done),
        "indexed": indexed,
        "user_map": user_map,
    }


def _rewritten(
    rewriter: OwnerRewriter, records: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """The records with their items rewritten for the target's users, and how many stay out."""
    out = []
    for record in records:
        item = rewriter.rewrite(record["item"])
        if item is not None:
            out.append({**record, "item": item})
    return out, len(records) - len(out)


def _belongs(item: Item, with_meta: set[str]) -> bool:
    file_id = selection.file_id_of(item)
    return file_id is None or file_id in with_meta


async def _files_with_meta(
    backup: OpenedBackup, progress: Progress | None, census: UserCensus | None = None
) -> set[str]:
    """First pass: every part verified, and the files whose metadata the backup holds (and
    into ``census``, who its items name)."""
    found: set[str] = set()
    number = 0
    async for _, records in backup.item_parts():
        number += 1
        for record in records:
            item = record["item"]
            if census is not None:
                census.add(item)
            if selection.is_file_meta(item) and (file_id := selection.file_id_of(item)):
                found.add(file_id)
        if progress is not None:
            progress("check backup", number, len(backup.manifest.item_parts))
    return found


def _blob_jobs(records: list[dict[str, Any]], index: dict[str, BlobRef]) -> list[BlobJob]:
    """The bytes the READY files among ``records`` need, each checked against the index."""
    jobs = []
    for record in records:
        if "blob" not in record:
            continue
        item, sha = record["item"], record["blob"]
        if sha not in index:
            raise BackupDamagedError(f"file {item.get('id')}: its blob is not in the blob index")
        jobs.append(BlobJob(item["blob_key"], sha, index[sha].size, item["content_type"]))
    return jobs


async def _put_items(store: ItemStore, items: list[Item], concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)
    # One op per key in a write: the last record of a key wins.
    unique = list({(item["pk"], item["sk"]): item for item in items}.values())

    async def write(batch: list[Item]) -> None:
        async with gate:
            await store.write([Put(item) for item in batch])

    await asyncio.gather(
        *(
            write(unique[start : start + MAX_WRITE_ITEMS])
            for start in range(0, len(unique), MAX_WRITE_ITEMS)
        )
    )


async def _together(*jobs: Coroutine[Any, Any, None]) -> None:
    """Run ``jobs`` concurrently; the first failure cancels the others and is raised as is."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _phase(progress: Progress | None, phase: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None

    def show(done: int, total: int) -> None:
        progress(phase, done, total)

    return show
