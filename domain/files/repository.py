"""Reads of files, shares and usage, speaking the domain's language (key formats live in
items.py). A PENDING file past its ``expires_at`` reads as missing everywhere: the store's
TTL deletes it lazily (DynamoDB: within days), but to users it is gone on time."""

from collections.abc import Callable, Sequence

from domain.clock import Clock
from domain.files import items as file_items
from domain.files.models import FilePage, ShareLink
from domain.files.quota import Reservation, Usage
from domain.models import FileRecord
from domain.paging import Collected, SourcePage, collect
from domain.ports import MAX_QUERY_LIMIT, Item, ItemStore, WriteOp

Keep = Callable[[FileRecord], bool]


class FileRepository:
    def __init__(self, items: ItemStore, clock: Clock) -> None:
        self._items = items
        self._clock = clock

    async def get(self, file_id: str, *, include_expired: bool = False) -> FileRecord | None:
        if not file_items.is_file_id(file_id):
            return None
        [item] = await self._items.get_many([file_items.file_key(file_id)])
        if item is None:
            return None
        record = file_items.file_from_item(item)
        return record if include_expired else self._unexpired(record)

    async def get_many(self, file_ids: Sequence[str]) -> list[FileRecord | None]:
        """One batched store call for DataLoaders; result i belongs to file_ids[i]."""
        valid = [file_id for file_id in file_ids if file_items.is_file_id(file_id)]
        items = await self._items.get_many([file_items.file_key(fid) for fid in valid])
        found = {fid: item for fid, item in zip(valid, items, strict=True) if item is not None}
        return [self._decode(found.get(file_id)) for file_id in file_ids]

    async def usage(self, owner_id: str) -> Usage:
        [item] = await self._items.get_many([file_items.usage_key(owner_id)])
        return file_items.usage_from_item(owner_id, item)

    async def reservations(self, owner_id: str) -> list[Reservation]:
        """The owner's unreleased reservations (at most the cap on unfinished uploads, plus
        any that expired and were not reclaimed yet; one page is enough to make room)."""
        page = await self._items.query(
            file_items.reservation_partition(owner_id),
            prefix=file_items.RESERVATION_PREFIX,
            limit=MAX_QUERY_LIMIT,
        )
        return [file_items.reservation_from_item(item) for item in page.items]

    async def share_times(self, file_id: str) -> dict[str, str]:
        """user id -> shared_at of the file's share items (bounded by the share cap)."""
        page = await self._items.query(
            file_items.file_key(file_id).pk, prefix=file_items.SHARE_PREFIX, limit=1000
        )
        return file_items.share_times(page.items)

    async def share_links(self, file_id: str) -> list[ShareLink]:
        """Every stored link of the file, expired ones included (bounded: each new link
        prunes the expired ones, and unexpired ones are capped)."""
        page = await self._items.query(
            file_items.file_key(file_id).pk, prefix=file_items.LINK_PREFIX, limit=1000
        )
        return [file_items.share_link_from_item(item) for item in page.items]

    async def share_link_by_token(self, token_sha256: str) -> tuple[ShareLink, FileRecord] | None:
        """The link a token's hash names and its file (two reads: the token item, then
        the link and the file meta in one batch); None when any of them is missing."""
        [token_item] = await self._items.get_many([file_items.link_token_key(token_sha256)])
        if token_item is None:
            return None
        file_id, link_id = file_items.token_target(token_item)
        link_item, meta = await self._items.get_many(
            [file_items.link_key(file_id, link_id), file_items.file_key(file_id)]
        )
        if link_item is None or meta is None:
            return None
        link = file_items.share_link_from_item(link_item)
        if link.token_sha256 != token_sha256:
            return None
        return link, file_items.file_from_item(meta)

    async def write(self, ops: Sequence[WriteOp]) -> None:
        await self._items.write(ops)

    async def list_owned(
        self, owner_id: str, *, first: int, after: str | None, keep: Keep, backward: bool = False
    ) -> FilePage:
        """An owner's files, newest first, that ``keep`` accepts; ``backward``: the ones
        before ``after``, nearest first."""

        def listed(record: FileRecord) -> bool:
            return record.owner_id == owner_id

        partition = file_items.owned_partition(owner_id)
        return await self._listing(
            partition, first=first, after=after, keep=keep, listed=listed, backward=backward
        )

    async def list_shared_with(
        self, user_id: str, *, first: int, after: str | None, keep: Keep, backward: bool = False
    ) -> FilePage:
        """Files shared with a user, most recently shared first (``backward``: the ones
        before ``after``, nearest first)."""

        def listed(record: FileRecord) -> bool:
            return user_id in record.shared_with

        partition = file_items.shared_listing_partition(user_id)
        return await self._listing(
            partition, first=first, after=after, keep=keep, listed=listed, backward=backward
        )

    async def _listing(
        self,
        partition: str,
        *,
        first: int,
        after: str | None,
        keep: Keep,
        listed: Keep,
        backward: bool,
    ) -> FilePage:
        """A page of listing items read from the table (consistent: read-your-writes),
        then one batched read of their metas. Whatever is shown comes from the meta as
        stored now, never from the listing; a listing item whose file is gone, expired or
        no longer listed there (``listed``) is dropped."""
        # The refetch of a cut page asks for files already read; don't read them twice.
        seen: dict[str, Item | None] = {}

        async def fetch(position: str | None, limit: int) -> SourcePage[FileRecord]:
            page = await self._items.query(
                partition, after=position, limit=limit, descending=not backward
            )
            file_ids = [file_items.shared_file_id(item) for item in page.items]
            unread = list(dict.fromkeys(fid for fid in file_ids if fid not in seen))
            if unread:
                metas = await self._items.get_many([file_items.file_key(fid) for fid in unread])
                seen.update(zip(unread, metas, strict=True))
            records = [self._decode(seen[fid]) for fid in file_ids]
            listed_records = [r if r is not None and listed(r) else None for r in records]
            return SourcePage(listed_records, page.item_cursors, page.cursor)

        return _file_page(await collect(fetch, first=first, after=after, keep=keep))

    def _decode(self, item: Item | None) -> FileRecord | None:
        return None if item is None else self._unexpired(file_items.file_from_item(item))

    def _unexpired(self, record: FileRecord) -> FileRecord | None:
        return None if record.is_expired(self._clock()) else record


def _file_page(collected: Collected[FileRecord]) -> FilePage:
    return FilePage(collected.entries, collected.cursor, tuple(collected.positions))
