"""Rebuild the search index of a restored store: the same per-document sync the mutations
and `demobackend reindex` use, over the restored metadata."""

import asyncio

from domain.clock import utc_now
from domain.files import FileRepository
from domain.ports import ItemStore
from domain.search.documents import FILE, Document, file_document
from domain.search.indexer import SearchIndexer
from domain.search.reindex import Progress, list_documents
from domain.users import UserRepository


async def rebuild_search(
    items: ItemStore, progress: Progress | None = None, *, concurrency: int = 8
) -> int:
    """Index every restored document; returns how many. ``concurrency`` bounds the writes
    in flight (1 for moto, whose TransactWriteItems is not safe to run concurrently)."""
    files = FileRepository(items, utc_now)
    indexer = SearchIndexer(items)
    users = UserRepository(items)

    async def sync_file(file_id: str) -> None:
        async def load() -> Document | None:
            return file_document(await files.get(file_id))

        await indexer.sync(FILE, file_id, load)

    documents = await list_documents(items)
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(kind: str, doc_id: str) -> None:
        nonlocal done
        async with gate:
            await (sync_file if kind == FILE else users.index_for_search)(doc_id)
        done += 1
        if progress is not None:
            progress(done, len(documents))

    await asyncio.gather(*(one(kind, doc_id) for kind, doc_id in documents))
    return len(documents)
