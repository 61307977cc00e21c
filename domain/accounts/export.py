"""exportMyData: one archive of everything a user owns, written into the blob store and
handed out as a short-lived download URL to its owner only.

One export per user at a time, in ``USER#<id>`` / ``EXPORT``: a call while it is BUILDING
returns it; a READY one is returned (with a fresh URL) until it expires, after which the
next call builds anew and removes the old archive. The archive is built in the request,
streamed (bounded memory) twice: once to learn its SHA-256, once into the store, which
checks it. A BUILDING export older than ``stale_after`` (its builder died) is rebuilt.
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
from domain.errors import ConflictError, DomainError
from domain.files import items as file_items
from domain.models import FileStatus, Principal
from domain.ports import Absent, BlobStore, Item, ItemStore, Key, Put, VersionIs
from domain.users import UserRepository

logger = logging.getLogger(__name__)

BUILDING, READY, FAILED = "BUILDING", "READY", "FAILED"
ARCHIVE_TYPE = "application/x-tar"
_PAGE = 100


def export_key(user_id: str) -> Key:
    return Key(f"USER#{user_id}", "EXPORT")


@dataclass(frozen=True, slots=True)
class DataExport:
    id: str
    status: str
    url: str | None = None
    expires_at: int | None = None  # epoch seconds: when the URL stops working


@dataclass(frozen=True, slots=True)
class ExportLimits:
    keep_seconds: int = 24 * 3600  # how long a READY archive is kept and re-handed out
    url_seconds: int = 900  # how long one download URL works
    stale_after: int = 900  # a BUILDING export older than this was abandoned


class DataExports:
    def __init__(
        self,
        items: ItemStore,
        blobs: BlobStore,
        users: UserRepository,
        clock: Clock,
        limits: ExportLimits | None = None,
        id_factory: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._items = items
        self._blobs = blobs
        self._users = users
        self._clock = clock
        self._limits = limits or ExportLimits()
        self._new_id = id_factory

    async def export_my_data(self, viewer: Principal) -> DataExport:
        now = int(self._clock().timestamp())
        [current] = await self._items.get_many([export_key(viewer.user_id)])
        if current is not None:
            reusable = await self._reuse(current, now)
            if reusable is not None:
                return reusable
        item = self._building(viewer.user_id, now)
        try:
            condition = Absent() if current is None else VersionIs(current["version"])
            await self._items.write([Put(item, condition=condition)])
        except ConflictError:
            # Another request started one first: that is the one in progress.
            [theirs] = await self._items.get_many([export_key(viewer.user_id)])
            if theirs is None:
                raise
            return _view(theirs)
        if current is not None:
            await self._blobs.delete(current["blob_key"])  # an expired or failed archive
        return await self._build(viewer, item, now)

    async def _reuse(self, current: Item, now: int) -> DataExport | None:
        if current["status"] == BUILDING and now - current["started_at"] < self._limits.stale_after:
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
            "version": 1,
        }

    async def _build(self, viewer: Principal, item: Item, now: int) -> DataExport:
        try:
            files = await self._owned(viewer.user_id)
            manifest = await self._manifest_maker(viewer, files, now)

            def stream() -> AsyncIterator[bytes]:
                return tar_stream(files, self._blobs.read, manifest, mtime=now)

            digest = hashlib.sha256()
            async for chunk in stream():
                digest.update(chunk)
            await self._blobs.write(
                item["blob_key"], stream(), content_type=ARCHIVE_TYPE, sha256=digest.hexdigest()
            )
        except DomainError:
            logger.warning("data export failed", exc_info=True)
            failed = {**item, "status": FAILED, "version": item["version"] + 1}
            await self._items.write([Put(failed, condition=VersionIs(item["version"]))])
            return _view(failed)
        ready = {
            **item,
            "status": READY,
            "kept_until": now + self._limits.keep_seconds,
            "file_count": len(files),
            "version": item["version"] + 1,
        }
        await self._items.write([Put(ready, condition=VersionIs(item["version"]))])
        return await self._ready_view(ready, now)

    async def _ready_view(self, item: Item, now: int) -> DataExport:
        expires_in = min(self._limits.url_seconds, item["kept_until"] - now)
        url = await self._blobs.presign_download(
            item["blob_key"], filename=f"data-export-{item['export_id']}.tar", expires_in=expires_in
        )
        return DataExport(item["export_id"], READY, url, now + expires_in)

    async def _owned(self, user_id: str) -> list[ArchivedFile]:
        found: list[ArchivedFile] = []
        after = None
        while True:
            page = await self._items.query(
                file_items.owner_partition(user_id), index="gsi1", after=after, limit=_PAGE
            )
            for raw in page.items:
                record = file_items.file_from_item(raw)
                if record.status is FileStatus.READY:  # PENDING ones have no bytes yet
                    found.append(ArchivedFile(record, archive_path(record)))
            if page.cursor is None:
                return found
            after = page.cursor

    async def _manifest_maker(
        self, viewer: Principal, files: list[ArchivedFile], now: int
    ) -> Callable[[dict[str, str]], dict[str, Any]]:
        sharee_ids = sorted({uid for entry in files for uid in entry.record.shared_with})
        sharees = dict(zip(sharee_ids, await self._users.get_many(sharee_ids), strict=True))
        profile = await self._users.get(viewer.user_id)

        def manifest(digests: dict[str, str]) -> dict[str, Any]:
            return {
                "format": "demobackend-data-export/1",
                "exportedAt": to_iso(datetime.fromtimestamp(now, UTC)),
                "user": {
                    "id": viewer.user_id,
                    "username": viewer.username,
                    "displayName": profile.display_name if profile else None,
                    "email": profile.email if profile else None,
                },
                "files": [_file_entry(entry, digests, sharees) for entry in files],
            }

        return manifest


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
