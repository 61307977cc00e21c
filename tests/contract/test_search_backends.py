"""The main search path on the real ItemStores (SQLite, DynamoDB through moto), not only
the fake: index, query with a prefix, permission, update, delete."""

from datetime import UTC, datetime

from domain.file_items import file_from_item, file_key, file_to_item
from domain.file_models import FileRecord, FileStatus, Visibility
from domain.models import Principal
from domain.ports import Delete, ItemStore, Put
from domain.search.documents import FILE, Document, file_document
from domain.search.engine import QueryTerms, search_kind
from domain.search.indexer import SearchIndexer
from domain.search.models import SearchFilter
from domain.search.sources import FileSource

NOW = datetime(2026, 1, 1, tzinfo=UTC)
OWNER = Principal(user_id="u-1", username="one")
OTHER = Principal(user_id="u-2", username="two")


def _record(file_id: str, name: str, visibility: Visibility = Visibility.PRIVATE) -> FileRecord:
    return FileRecord(
        id=file_id,
        owner_id=OWNER.user_id,
        name=name,
        content_type="text/plain",
        size=1,
        sha256=None,
        status=FileStatus.READY,
        visibility=visibility,
        description=None,
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
