"""ItemStore wrappers for tests that count or interleave store calls, and seeding."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from domain.ports import MAX_WRITE_ITEMS, Item, ItemStore, Key, Page, Put, WriteOp


class CountingItemStore:
    """Counts the calls made to the store it wraps."""

    def __init__(self, inner: ItemStore) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        self.calls["get_many"] += 1
        return await self.inner.get_many(keys)

    async def query(self, partition: str, **kwargs: Any) -> Page:
        self.calls["query"] += 1
        return await self.inner.query(partition, **kwargs)

    async def write(self, ops: Sequence[WriteOp]) -> None:
        self.calls["write"] += 1
        await self.inner.write(ops)

    def scan(self, *, page_size: int = 500) -> AsyncIterator[list[Item]]:
        return self.inner.scan(page_size=page_size)

    async def ping(self) -> None:
        await self.inner.ping()


class InterleavingItemStore(CountingItemStore):
    """The in-memory store never suspends, so coroutines gathered over it would run one
    after the other. This one yields to the event loop around every call, the way a real
    store's I/O does, so concurrent read-modify-writes really interleave."""

    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        await asyncio.sleep(0)
        result = await super().get_many(keys)
        await asyncio.sleep(0)
        return result

    async def query(self, partition: str, **kwargs: Any) -> Page:
        await asyncio.sleep(0)
        result = await super().query(partition, **kwargs)
        await asyncio.sleep(0)
        return result

    async def write(self, ops: Sequence[WriteOp]) -> None:
        await asyncio.sleep(0)
        await super().write(ops)
        await asyncio.sleep(0)


async def put_all(store: ItemStore, items: Iterable[Item]) -> None:
    """Seed a store without conditions, in as many writes as the batch limit needs."""
    items = list(items)
    for start in range(0, len(items), MAX_WRITE_ITEMS):
        await store.write([Put(item) for item in items[start : start + MAX_WRITE_ITEMS]])
