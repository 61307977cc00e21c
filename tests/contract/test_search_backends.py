"""The main search path on the real ItemStores (SQLite, DynamoDB through moto), not only
the fake: index, query with a prefix, permission, update, delete."""

from datetime import UTC, datetime

import pytest

from domain.files import file_from_item, file_key, file_to_item
from domain.models import FileRecord, FileStatus, Principal, Visibility
from domain.ports import Delete, ItemStore, Put
from domain.search import engine
from domain.search.documents import FILE, Document, file_document
from domain.search.engine import QueryTerms, search_kind
from domain.search.indexer import SearchIndexer
from domain.search.models import SearchFilter
from domain.search.sources import FileSource

NOW = datetime(2026, 1, 1, tzinfo=UTC)
OWNER = Principal(user_id="u-1", username="one")
OTHER = Principal(user_id="u-2", username="two")


def _record(
    file_id: str,
    name: str,
    visibility: Visibility = Visibility.PRIVATE,
    owner: Principal = OWNER,
    description: str | None = None,
) -> FileRecord:
    return FileRecord(
        id=file_id,
        owner_id=owner.user_id,
        name=name,
        content_type="text/plain",
        size=1,
        sha256=None,
        status=FileStatus.READY,
        visibility=visibility,
        description=description,
        tags=(),
        shared_with=(),
        version=1,
        created_at=NOW,
        updated_at=NOW,
        blob_key=f"files/{file_id}/blob",
    )


async def _save(store: ItemStore, indexer: SearchIndexer, record: FileRecord) -> None:
    await store.write([Put(file_to_item(record))])
    await indexer.sync(FILE, record.id, lambda: _load(store, record.id))


async def _load(store: ItemStore, file_id: str) -> Document | None:
    [item] = await store.get_many([file_key(file_id)])
    return file_document(None if item is None else file_from_item(item))


async def _names(
    store: ItemStore, viewer: Principal, exact: tuple[str, ...], prefix: str
) -> list[str]:
    source = FileSource(store, viewer, SearchFilter(), lambda: NOW)
    found = await search_kind(store, source, QueryTerms(exact, prefix))
    ranked = sorted(found, key=lambda s: (-s.score, s.candidate.document.id))
    return [s.candidate.document.fields["name"] for s in ranked]


async def test_index_query_update_delete(item_store: ItemStore) -> None:
    indexer = SearchIndexer(item_store)
    await _save(item_store, indexer, _record("f1", "quarterly report.pdf"))
    await _save(item_store, indexer, _record("f2", "quarterly plan.txt", Visibility.PUBLIC))
    await _save(item_store, indexer, _record("f3", "report quarterly report.txt"))
    assert await _names(item_store, OWNER, ("quarterly",), "rep") == [
        "report quarterly report.txt",
        "quarterly report.pdf",
    ]
    assert await _names(item_store, OTHER, (), "quar") == ["quarterly plan.txt"]
    await _save(item_store, indexer, _record("f1", "annual summary.pdf"))
    assert sorted(await _names(item_store, OWNER, (), "quarterly")) == [
        "quarterly plan.txt",
        "report quarterly report.txt",
    ]
    assert await _names(item_store, OWNER, (), "annual") == ["annual summary.pdf"]
    await item_store.write([Delete(file_key("f2"))])
    await indexer.sync(FILE, "f2", lambda: _load(item_store, "f2"))
    assert await _names(item_store, OTHER, (), "quar") == []


async def _answer(
    store: ItemStore, viewer: Principal, exact: tuple[str, ...], prefix: str
) -> list[tuple[str, float]]:
    source = FileSource(store, viewer, SearchFilter(), lambda: NOW)
    found = await search_kind(store, source, QueryTerms(exact, prefix))
    return sorted((s.candidate.document.id, s.score) for s in found)


async def test_others_private_files_move_neither_driver_nor_expansions(
    item_store: ItemStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Search privacy on the real stores: the driver's df and a prefix's completions are
    read from the viewer's access scopes, so another user's private files change nothing
    the viewer gets, even when the accept cap binds."""
    monkeypatch.setattr(engine, "ACCEPT_TARGET", 2)
    indexer = SearchIndexer(item_store)
    filler = "other words " * 8
    for n in range(2):
        await _save(
            item_store,
            indexer,
            _record(f"a{n}", f"budget {n}", owner=OTHER, description=f"{filler} plan"),
        )
        await _save(
            item_store,
            indexer,
            _record(f"b{n}", f"plan {n}", owner=OTHER, description=f"{filler} budget"),
        )
        await _save(item_store, indexer, _record(f"c{n}", f"plan {n}", owner=OTHER))
    await _save(item_store, indexer, _record("d0", "zetaq", Visibility.PUBLIC))
    before = [
        await _answer(item_store, OTHER, ("budget",), "plan"),
        await _answer(item_store, OTHER, (), "zet"),
    ]
    assert [doc_id for doc_id, _ in before[0]] == ["a0", "a1"]  # "budget" drives
    assert [doc_id for doc_id, _ in before[1]] == ["d0"]

    # The owner's private files: "budget" becomes the commoner term index-wide, and ten
    # completions of "zet", each in two files, outnumber the viewer's "zetaq".
    completions = " ".join(f"zet{letter}" for letter in "abcdefghij")
    for n in range(6):
        await _save(item_store, indexer, _record(f"p{n}", f"budget {completions}"))

    assert await _answer(item_store, OTHER, ("budget",), "plan") == before[0]
    assert await _answer(item_store, OTHER, (), "zet") == before[1]
    assert len(await _answer(item_store, OWNER, (), "zet")) == 2  # capped at 2
