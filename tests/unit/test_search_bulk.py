"""Bulk indexing (a restore's, and a completed upload's one-write index) leaves exactly the
index the per-document sync leaves: the same postings, counters and settled states;
documents indexed before fall back to the sync and still converge."""

from collections.abc import Sequence
from typing import Any

import pytest

from adapters.items.memory import InMemoryItemStore
from domain.errors import StoreUnavailableError
from domain.ports import Item, WriteOp
from domain.search import keys
from domain.search.bulk import index_fresh, index_new
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


class _CountingWrites(InMemoryItemStore):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    async def write(self, ops: Sequence[WriteOp]) -> None:
        self.writes += 1
        await super().write(ops)


async def _fresh(store: InMemoryItemStore, doc: Document, now: Document | None) -> list[str]:
    """index_fresh of ``doc`` while the metadata says ``now``; the ids synced instead."""
    indexer = SearchIndexer(store)
    synced: list[str] = []

    async def current() -> Document | None:
        return now

    async def sync() -> None:
        synced.append(doc.id)
        assert await indexer.sync(doc.kind, doc.id, current)

    await index_fresh(store, doc, current=current, sync=sync)
    return synced


async def test_a_fresh_document_is_indexed_in_one_write_as_the_sync_would() -> None:
    docs = [d for d in _documents() if d.id != "big"]
    expected, fresh = InMemoryItemStore(), _CountingWrites()
    await _synced(expected, docs)
    for doc in docs:
        assert await _fresh(fresh, doc, doc) == []
    assert fresh.writes == len(docs)
    assert await _index(fresh) == await _index(expected)


async def test_a_fresh_index_gives_way_to_the_sync_when_one_write_cannot_do() -> None:
    docs = _documents()
    expected, fresh = InMemoryItemStore(), InMemoryItemStore()
    await _synced(expected, docs)
    # Indexed earlier with other text: the write's Absent fails, having written nothing.
    await _sync(SearchIndexer(fresh), Document(FILE, "f3", {"name": "draft"}, (keys.ALL,)))
    synced = [s for doc in docs for s in await _fresh(fresh, doc, doc)]
    assert synced == ["f3", "big"]  # and "big": too many items for one write
    assert await _index(fresh) == await _index(expected)


async def test_metadata_changed_meanwhile_ends_indexed_as_it_is_now() -> None:
    before = _documents()[1]
    now = Document(FILE, before.id, {"name": "renamed meanwhile"}, (keys.ALL, keys.PUBLIC))
    expected, fresh = InMemoryItemStore(), InMemoryItemStore()
    await _synced(expected, [now])
    assert await _fresh(fresh, before, now) == [before.id]
    # The sync leaves a field length moved back to 0 as 0, where a new count has none.
    assert _nonzero(await _index(fresh)) == _nonzero(await _index(expected))
    # Deleted meanwhile: no index left at all.
    gone = InMemoryItemStore()
    assert await _fresh(gone, before, None) == [before.id]
    assert _nonzero(await _index(gone)) == {}


def _nonzero(index: dict[tuple[str, str], Item]) -> dict[tuple[str, str], Item]:
    """Counters moved back to 0 are left at 0 by the sync; a new count has none."""
    return {
        key: {k: v for k, v in item.items() if v != 0}
        for key, item in index.items()
        if item.get("docs", 1) != 0
    }
