"""exportMyData: one archive of everything a user owns, written into the blob store and
handed out as a short-lived download URL to its owner only.

One export per user at a time, in ``USER#<id>`` / ``EXPORT``: a call while it is BUILDING
returns it; a READY one is returned (with a fresh URL) until it expires, after which the
next call builds anew and removes the old archive. ``dataExport(id)`` reads the same item:
the status a client polls while a large export builds.

Small exports (at most ``inline_max_files`` files and ``inline_max_bytes`` bytes) are
built in the request and answered READY. Larger ones are handed to the ExportScheduler
(a task in the server process, or an asynchronous invocation of the Lambda function) and
answered BUILDING; ``build`` runs them. Either way the archive is streamed (bounded
memory) twice: once to learn its SHA-256, once into the store, which checks it.

While BUILDING the item sits in the ``DATA_EXPORTS_BUILDING`` partition of gsi1, so a
restarted server finds the builds its predecessor did not finish (``resume``). A BUILDING
export older than ``stale_after`` (its builder died and nobody resumed it) reads as
FAILED, and the next exportMyData builds a new one.
"""

import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.accounts.archive import ArchivedFile, archive_path, tar_stream
from domain.clock import Clock, to_iso
from domain.errors import ConflictError, DomainError, NotFoundError
from domain.files import items as file_items
from domain.models import FileStatus
from domain.ports import Absent, BlobStore, ExportScheduler, Item, ItemStore, Key, Put, VersionIs
from domain.users import UserRepository

logger = logging.getLogger(__name__)

BUILDING, READY, FAILED = "BUILDING", "READY", "FAILED"
ARCHIVE_TYPE = "application/x-tar"
BUILDING_PARTITION = "DATA_EXPORTS_BUILDING"
_PAGE = 100
_MIB = 1024 * 1024


def export_key(user_id: str) -> Key:
    return Key(f"USER#{user_id}", "EXPORT")


@dataclass(frozen=True, slots=True)
class DataExport:
    """One data export as the owner sees it: BUILDING, READY with a download URL and when
    it stops working, or FAILED."""

    id: str
    status: str
    url: str | None = None
    expires_at: int | None = None  # epoch seconds: when the URL stops working


@dataclass(frozen=True, slots=True)
class ExportLimits:
    """How long exports and their URLs live, and how large an export may be built inline
    before it goes to the background."""

    keep_seconds: int = 24 * 3600  # how long a READY archive is kept and re-handed out
    url_seconds: int = 900  # how long one download URL works
    stale_after: int = 900  # a BUILDING export older than this was abandoned
    # Larger exports are built in the background (with a scheduler to hand them to).
    inline_max_bytes: int = 8 * _MIB
    inline_max_files: int = 200


@dataclass(frozen=True, slots=True)
class PendingExport:
    """An export left BUILDING in the background, as a resumed run finds it: whose, and
    which."""

    user_id: str
    export_id: str


class DataExports:
    def __init__(
        self,
        items: ItemStore,
        blobs: BlobStore,
        users: UserRepository,
        clock: Clock,
        limits: ExportLimits | None = None,
        id_factory: Callable[[], str] = lambda: uuid.uuid4().hex,
        scheduler: ExportScheduler | None = None,
    ) -> None:
        """Without a scheduler every export is built in the request."""
        self._items = items
        self._blobs = blobs
        self._users = users
        self._clock = clock
        self._limits = limits or ExportLimits()
        self._new_id = id_factory
        self._scheduler = scheduler

    def _now(self) -> int:
        return int(self._clock().timestamp())

    async def export_my_data(self, user_id: str) -> DataExport:
        now = self._now()
        [current] = await self._items.get_many([export_key(user_id)])
        if current is not None:
            reusable = await self._reuse(current, now)
            if reusable is not None:
                return reusable
        item = self._building(user_id, now)
        try:
            condition = Absent() if current is None else VersionIs(current["version"])
            await self._items.write([Put(item, condition=condition)])
        except ConflictError:
            # Another request started one first: that is the one in progress.
            [theirs] = await self._items.get_many([export_key(user_id)])
            if theirs is None:
                raise
            return _view(theirs)
        if current is not None:
            await self._blobs.delete(current["blob_key"])  # an expired or failed archive
        files = await self._owned(user_id)
        if self._scheduler is None or self._fits_inline(files):
            return await self._build(item, files)
        try:
            await self._scheduler.schedule(user_id, item["export_id"])
        except DomainError:
            logger.warning("data export could not be scheduled", exc_info=True)
            return await self._fail(item)
        logger.info("data export scheduled (%d files)", len(files))
        return _view(item)

    async def status(self, user_id: str, export_id: str) -> DataExport:
        """The viewer's export ``export_id``; NotFoundError for any other id (someone
        else's included: only the viewer's own item is read) and for an expired one."""
        [item] = await self._items.get_many([export_key(user_id)])
        if item is None or item["export_id"] != export_id:
            raise NotFoundError("Data export not found")
        now = self._now()
        if item["status"] == BUILDING and self._is_stale(item, now):
            return DataExport(export_id, FAILED)
        if item["status"] == READY:
            if now >= item["kept_until"]:
                raise NotFoundError("Data export not found")
            return await self._ready_view(item, now)
        return _view(item)

    async def build(self, user_id: str, export_id: str) -> DataExport | None:
        """Build a scheduled export (the background side); None when it is no longer
        BUILDING (done by another run, replaced, or its account deleted). Safe to repeat:
        the archive's key and bytes depend on the export alone."""
        [item] = await self._items.get_many([export_key(user_id)])
        if item is None or item["export_id"] != export_id or item["status"] != BUILDING:
            return None
        return await self._build(item, await self._owned(user_id))

    async def pending(self) -> list[PendingExport]:
        """Exports still BUILDING, oldest first: what a restarted server resumes."""
        found: list[PendingExport] = []
        after = None
        while True:
            page = await self._items.query(
                BUILDING_PARTITION, index="gsi1", after=after, limit=_PAGE
            )
            found += [PendingExport(_user_of(i), i["export_id"]) for i in page.items]
            if page.cursor is None:
                return found
            after = page.cursor

    async def resume(self, pending: PendingExport) -> bool:
        """Restart an unfinished build: its clock restarts (it is not stale while it runs
        again) and it goes to the scheduler. False when it finished or changed meanwhile."""
        [item] = await self._items.get_many([export_key(pending.user_id)])
        if item is None or item["export_id"] != pending.export_id or item["status"] != BUILDING:
            return False
        restarted = {**item, "started_at": self._now(), "version": item["version"] + 1}
        try:
            await self._items.write([Put(restarted, condition=VersionIs(item["version"]))])
        except ConflictError:
            return False
        logger.info("data export resumed")
        if self._scheduler is None:
            await self._build(restarted, await self._owned(pending.user_id))
        else:
            await self._scheduler.schedule(pending.user_id, pending.export_id)
        return True

    def _fits_inline(self, files: list[ArchivedFile]) -> bool:
        total = sum(entry.record.size for entry in files)
        limits = self._limits
        return len(files) <= limits.inline_max_files and total <= limits.inline_max_bytes

    def _is_stale(self, item: Item, now: int) -> bool:
        return bool(now - item["started_at"] >= self._limits.stale_after)

    async def _reuse(self, current: Item, now: int) -> DataExport | None:
        if current["status"] == BUILDING and not self._is_stale(current, now):
            return _view(current)
        if current["status"] == READY and now < current["kept_until"]:
            return await self._ready_view(current, now)
        return None

    def _building(self, user_id: str, now: int) -> Item:
        key = export_key(user_id)
        export_id = self._new_id()
        return {
            "pk": key.pk,
            "sk": key.sk,
            "type": "DataExport",
            "export_id": export_id,
            "status": BUILDING,
            "blob_key": f"files/export-{export_id}/archive.tar",
            "started_at": now,
            # The archive's times: fixed, so a repeated build writes the same bytes.
            "created_at": now,
            "gsi1pk": BUILDING_PARTITION,
            "gsi1sk": f"{now:012d}#{user_id}",
            "version": 1,
        }

    async def _build(self, item: Item, files: list[ArchivedFile]) -> DataExport:
        user_id = _user_of(item)
        try:
            manifest = await self._manifest_maker(user_id, files, item["created_at"])

            def stream() -> AsyncIterator[bytes]:
                return tar_stream(files, self._blobs.read, manifest, mtime=item["created_at"])

            digest = hashlib.sha256()
            async for chunk in stream():
                digest.update(chunk)
            await self._blobs.write(
                item["blob_key"], stream(), content_type=ARCHIVE_TYPE, sha256=digest.hexdigest()
            )
        except DomainError:
            logger.warning("data export failed", exc_info=True)
            return await self._fail(item)
        now = self._now()
        ready = {
            **_settled(item),
            "status": READY,
            "kept_until": now + self._limits.keep_seconds,
            "file_count": len(files),
            "version": item["version"] + 1,
        }
        if not await self._settle(item, ready):
            return _view(item)
        return await self._ready_view(ready, now)

    async def _fail(self, item: Item) -> DataExport:
        failed = {**_settled(item), "status": FAILED, "version": item["version"] + 1}
        await self._settle(item, failed)
        return _view(failed)

    async def _settle(self, item: Item, settled: Item) -> bool:
        """Write the build's outcome unless the export changed meanwhile (a resumed run
        finished it, the account was deleted): then the archive is removed, unless the
        export that now stands is this very one."""
        try:
            await self._items.write([Put(settled, condition=VersionIs(item["version"]))])
        except ConflictError:
            [now_there] = await self._items.get_many([export_key(_user_of(item))])
            if now_there is None or now_there["export_id"] != item["export_id"]:
                await self._blobs.delete(item["blob_key"])
            return False
        return True

    async def _ready_view(self, item: Item, now: int) -> DataExport:
        expires_in = min(self._limits.url_seconds, item["kept_until"] - now)
        url = await self._blobs.presign_download(
            item["blob_key"], filename=f"data-export-{item['export_id']}.tar", expires_in=expires_in
        )
        return DataExport(item["export_id"], READY, url, now + expires_in)

    async def _owned(self, user_id: str) -> list[ArchivedFile]:
        # The owner's listing items, read from the table, then their metas: DynamoDB cannot
        # read a global index consistently, so gsi1 could miss a file just uploaded and
        # still hold one just deleted (whose bytes are gone).
        found: list[ArchivedFile] = []
        after = None
        while True:
            page = await self._items.query(
                file_items.owned_partition(user_id), after=after, limit=_PAGE
            )
            file_ids = [file_items.shared_file_id(item) for item in page.items]
            keys = [file_items.file_key(file_id) for file_id in file_ids]
            metas = await self._items.get_many(keys) if keys else []
            for raw in metas:
                record = file_items.file_from_item(raw) if raw is not None else None
                # PENDING ones have no bytes yet; a listing item may outlive its file.
                if record and record.owner_id == user_id and record.status is FileStatus.READY:
                    found.append(ArchivedFile(record, archive_path(record)))
            if page.cursor is None:
                return found
            after = page.cursor

    async def _manifest_maker(
        self, user_id: str, files: list[ArchivedFile], now: int
    ) -> Callable[[dict[str, str]], dict[str, Any]]:
        sharee_ids = sorted({uid for entry in files for uid in entry.record.shared_with})
        found = await self._users.get_many([user_id, *sharee_ids])
        profile, sharees = found[0], dict(zip(sharee_ids, found[1:], strict=True))

        def manifest(digests: dict[str, str]) -> dict[str, Any]:
            return {
                "format": "demobackend-data-export/1",
                "exportedAt": to_iso(datetime.fromtimestamp(now, UTC)),
                "user": {
                    "id": user_id,
                    "username": profile.username if profile else None,
                    "displayName": profile.display_name if profile else None,
                    "email": profile.email if profile else None,
                },
                "files": [_file_entry(entry, digests, sharees) for entry in files],
            }

        return manifest


def _user_of(item: Item) -> str:
    return str(item["pk"]).removeprefix("USER#")


def _settled(item: Item) -> Item:
    # Out of the BUILDING partition: resume skips it.
    return {k: v for k, v in item.items() if k not in ("gsi1pk", "gsi1sk")}


def _file_entry(entry: ArchivedFile, digests: dict[str, str], sharees: dict[str, Any]) -> Item:
    record = entry.record
    return {
        "id": record.id,
        "path": entry.path,
        "name": record.name,
        "contentType": record.content_type,
        "size": record.size,
        "sha256": digests[record.id],
        "visibility": record.visibility.value,
        "description": record.description,
        "tags": list(record.tags),
        "createdAt": to_iso(record.created_at),
        "updatedAt": to_iso(record.updated_at),
        "sharedWith": [
            {"id": uid, "username": sharees[uid].username if sharees.get(uid) else None}
            for uid in record.shared_with
        ],
    }


def _view(item: Item) -> DataExport:
    return DataExport(item["export_id"], item["status"])
