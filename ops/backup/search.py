"""The search index of a restored store: each part's documents indexed in bulk as the part
is written (domain/search/bulk.py), or the whole index rebuilt from the restored metadata
with the per-document sync the mutations and `demobackend reindex` use."""

import asyncio
from collections.abc import Iterable

from domain.clock import utc_now
from domain.files import FileRepository, file_from_item
from domain.ports import Item, ItemStore
from domain.search.bulk import index_new
from domain.search.documents import FILE, Document, file_document, user_document
from domain.search.indexer import SearchIndexer
from domain.search.reindex import Progress, list_documents
from domain.users import UserRepository, user_from_item
from ops.backup import selection


class _Sync:
    """The per-document sync of one file or user, from the store's current metadata."""

    def __init__(self, items: ItemStore) -> None:
        self._files = FileRepository(items, utc_now)
        self._indexer = SearchIndexer(items)
        self._users = UserRepository(items)

    async def __call__(self, kind: str, doc_id: str) -> None:
        if kind != FILE:
            await self._users.index_for_search(doc_id)
            return

        async def load() -> Document | None:
            return file_document(await self._files.get(doc_id))

        await self._indexer.sync(FILE, doc_id, load)


def documents_of(items: Iterable[Item]) -> list[Document]:
    """The searchable documents among restored items (READY files and user profiles), one
    per id: the last item of a key wins, as it does in the write."""
    found: dict[tuple[str, str], Document] = {}
    for item in items:
        if selection.is_file_meta(item):
            doc = file_document(file_from_item(item))
            if doc is None:
                found.pop((FILE, str(item.get("id"))), None)
                continue
        elif item.get("type") == "User" and item.get("sk") == "PROFILE":
            doc = user_document(user_from_item(item))
        else:
            continue
        if doc is not None:
            found[doc.kind, doc.id] = doc
    return list(found.values())


async def index_restored(items: ItemStore, restored: Iterable[Item], *, concurrency: int) -> int:
    """Index the documents among ``restored`` (just written to ``items``); returns how many.
    ``concurrency`` bounds the writes in flight."""
    sync = _Sync(items)
    documents = documents_of(restored)

    async def one(doc: Document) -> None:
        await sync(doc.kind, doc.id)

    await index_new(items, documents, one, concurrency=concurrency)
    return len(documents)


async def rebuild_search(
    items: ItemStore, progress: Progress | None = None, *, concurrency: int = 8
) -> int:
    """Sync every document of the store; returns how many. ``concurrency`` bounds the
    writes in flight (1 for moto, whose TransactWriteItems is not safe to run concurrently)."""
    sync = _Sync(items)
    documents = await list_documents(items)
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(kind: str, doc_id: str) -> None:
        nonlocal done
        async with gate:
            await sync(kind, doc_id)
        done += 1
        if progress is not None:
            progress(done, len(documents))

    await asyncio.gather(*(one(kind, doc_id) for kind, doc_id in documents))
    return len(documents)
