"""Rebuild the search index from the metadata (``demobackend reindex``).

While a restore writes data (and until its index is complete, by the restore itself or by
a later reindex), a marker item makes search answer INDEX_REBUILDING rather than a partial
answer; a completed reindex removes it.

Safe while the server serves: every document goes through the same per-document sync the
mutations use (idempotent, version-checked, converging under concurrent writes), so a
reindex racing an update ends in the update's state either way. Documents that no longer
exist are found through their index state item and their postings removed.
"""

import asyncio
from collections.abc import Awaitable, Callable

from domain.ports import Delete, ItemStore, Put
from domain.search import keys
from domain.search.documents import FILE, USER

Sync = Callable[[str], Awaitable[object]]
Progress = Callable[[int, int], None]
CONCURRENCY = 8


async def list_documents(store: ItemStore) -> list[tuple[str, str]]:
    """(kind, id) of every file, user and indexed document, in a stable order."""
    found: set[tuple[str, str]] = set()
    async for page in store.scan():
        for item in page:
            kind = item.get("type")
            if kind == "File" and item.get("sk") == "META":
                found.add((FILE, item["id"]))
            elif kind == "User" and item.get("sk") == "PROFILE":
                found.add((USER, item["id"]))
            elif kind == "SearchState":
                found.add((item["kind"], item["doc_id"]))
    return sorted(found)


async def reindex(
    store: ItemStore, *, sync_file: Sync, sync_user: Sync, progress: Progress | None = None
) -> int:
    """Sync every document; returns how many were visited."""
    documents = await list_documents(store)
    done = 0
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(kind: str, doc_id: str) -> None:
        nonlocal done
        async with gate:
            await (sync_file if kind == FILE else sync_user)(doc_id)
        done += 1
        if progress is not None:
            progress(done, len(documents))

    if progress is not None:
        progress(0, len(documents))
    await asyncio.gather(*(one(kind, doc_id) for kind, doc_id in documents))
    await rebuilt(store)
    return len(documents)


async def mark_rebuilding(store: ItemStore) -> None:
    """From now until ``rebuilt``, search answers INDEX_REBUILDING (a restore is writing
    data whose index is not complete yet)."""
    key = keys.rebuilding_key()
    await store.write([Put({"pk": key.pk, "sk": key.sk, "type": "SearchRebuilding"})])


async def rebuilt(store: ItemStore) -> None:
    await store.write([Delete(keys.rebuilding_key())])


def text_bar(done: int, total: int, width: int = 30) -> str:
    filled = width if total == 0 else width * done // total
    return f"\rreindex [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
