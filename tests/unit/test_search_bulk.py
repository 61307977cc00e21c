"""Bulk indexing (a restore's) leaves exactly the index the per-document sync leaves:
the same postings, counters and settled states; documents indexed before fall back to
the sync and still converge."""

from collections.abc import Sequence
from typing import Any

import pytest

from adapters.items.memory import InMemoryItemStore
from domain.errors import StoreUnavailableError
from domain.ports import Item, WriteOp
from domain.search import keys
from domain.search.bulk import index_new
from domain.search.documents import FILE, USER, Document
from domain.search.indexer import SearchIndexer


def _documents() -> list[Document]:
    files = [
        Document(
            FILE,
            f"f{n}",
            {
                "name": f"report {n} quarterly.pdf",
                "tags": "finance q3" if n % 2 else "",
                "description": "numbers and more numbers " * (n % 3),
                "content_type": "application/pdf",
            },
            (keys.ALL, keys.owner_scope(f"u{n % 3}"), keys.shared_scope("u9"))
            if n % 4
            else (keys.ALL, keys.PUBLIC),
        )
        for n in range(40)
    ]
    # Long enough that its index cannot fit one write: synced alone.
    files.append(
        Document(
            FILE,
            "big",
            {"name": "big", "description": " ".join(f"w{i}" for i in range(150))},
            (keys.ALL, keys.PUBLIC),
        )
    )
    users = [
        Document(USER, f"u{n}", {"username": f"user{n}", "display_name": "Ann"}) for n in range(5)
    ]
    return files + users


async def _synced(store: InMemoryItemStore, docs: list[Document]) -> None:
    indexer = SearchIndexer(store)
    for doc in docs:
        await _sync(indexer, doc)


async def _sync(indexer: SearchIndexer, doc: Document) -> None:
    async def load() -> Document:
        return doc

    assert await indexer.sync(doc.kind, doc.id, load)


async def _index(store: InMemoryItemStore) -> dict[tuple[str, str], Item]:
    found: dict[tuple[str, str], Item] = {}
    async for page in store.scan():
        for item in page:
            if item["pk"].startswith("SRCH#"):
                # A state's version counts its writes, which differ between the two paths.
                found[item["pk"], item["sk"]] = _without_version(item)
    return found


def _without_version(item: Item) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not (item["type"] == "SearchState" and k == "version")}


async def test_bulk_index_equals_the_per_document_sync() -> None:
    docs = _documents()
    expected, bulk = InMemoryItemStore(), InMemoryItemStore()
    await _synced(expected, docs)
    indexer = SearchIndexer(bulk)
    fallbacks: list[str] = []

    async def sync(doc: Document) -> None:
        fallbacks.append(doc.id)
        await _sync(indexer, doc)

    await index_new(bulk, docs, sync)
    assert fallbacks == ["big"]
    assert await _index(bulk) == await _index(expected)


async def test_documents_indexed_before_fall_back_to_the_sync_and_converge() -> None:
    docs = _documents()
    expected, bulk = InMemoryItemStore(), InMemoryItemStore()
    await _synced(expected, docs)
    indexer = SearchIndexer(bulk)
    # Indexed earlier with other text (an earlier restore attempt, a forced restore).
    old = Document(FILE, "f3", {"name": "draft"}, (keys.ALL, keys.PUBLIC))
    await _sync(indexer, old)
    fallbacks: list[str] = []

    async def sync(doc: Document) -> None:
        fallbacks.append(doc.id)
        await _sync(indexer, doc)

    await index_new(bulk, docs, sync)
    assert "f3" in fallbacks and len(fallbacks) < len(docs) / 2
    assert await _index(bulk) == await _index(expected)


class _FailingWrites(InMemoryItemStore):
    """Every write after the first ``ok`` fails as a broken store does."""

    def __init__(self, ok: int) -> None:
        super().__init__()
        self.ok = ok

    async def write(self, ops: Sequence[WriteOp]) -> None:
        if self.ok <= 0:
            raise StoreUnavailableError("The item store is unavailable")
        self.ok -= 1
        await super().write(ops)


async def test_a_failed_write_is_raised_not_lost() -> None:
    store = _FailingWrites(ok=2)

    async def sync(doc: Document) -> None:
        raise AssertionError("no conflict here")

    with pytest.raises(StoreUnavailableError):
        await index_new(store, [d for d in _documents() if d.id != "big"], sync)
