"""The store wrappers in tests/support/stores.py do what the concurrency and batching
tests rely on."""

import asyncio

from adapters.items.memory import InMemoryItemStore
from domain.errors import ConflictError
from domain.ports import ItemStore, Key, Put, VersionIs
from tests.support.stores import CountingItemStore, InterleavingItemStore


async def _read_then_write(store: ItemStore, key: Key) -> None:
    [item] = await store.get_many([key])
    assert item is not None
    await store.write([Put({**item, "version": item["version"] + 1}, VersionIs(item["version"]))])


async def test_interleaving_store_really_interleaves_read_modify_writes() -> None:
    items = InMemoryItemStore()
    await items.write([Put({"pk": "A", "sk": "A", "version": 1})])
    key = Key("A", "A")

    # Over the plain fake, gathered coroutines run one after another: no conflict.
    await asyncio.gather(_read_then_write(items, key), _read_then_write(items, key))

    # Over the interleaving one both read the same version: one write must lose.
    results = await asyncio.gather(
        _read_then_write(InterleavingItemStore(items), key),
        _read_then_write(InterleavingItemStore(items), key),
        return_exceptions=True,
    )
    assert sorted(type(result).__name__ for result in results) == ["ConflictError", "NoneType"]
    assert any(isinstance(result, ConflictError) for result in results)


async def test_counting_store_counts_each_call() -> None:
    store = CountingItemStore(InMemoryItemStore())
    await store.get_many([Key("a", "b")])
    await store.query("a")
    await store.write([Put({"pk": "a", "sk": "b"})])
    assert store.calls == {"get_many": 1, "query": 1, "write": 1}
