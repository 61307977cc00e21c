"""For tests and benches only (the TEST_ITEM_STORE_DELAY_MS setting): an ItemStore that
waits before every call, so a fast local store behaves like a slow or distant one and
concurrent requests overlap in it the way they do on a loaded machine."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from domain.ports import Item, ItemStore, Key, Page, WriteOp


class DelayedItemStore:
    def __init__(self, inner: ItemStore, delay_seconds: float) -> None:
        if delay_seconds < 0:
            raise ValueError("delay_seconds must not be negative")
        self.inner = inner
        self._delay = delay_seconds

    def __getattr__(self, name: str) -> Any:  # adapter extras (close, ...) pass through
        return getattr(self.inner, name)

    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        await asyncio.sleep(self._delay)
        return await self.inner.get_many(keys)

    async def query(
        self,
        partition: str,
        *,
        index: str | None = None,
        prefix: str | None = None,
        after: str | None = None,
        limit: int = 100,
        descending: bool = False,
    ) -> Page:
        await asyncio.sleep(self._delay)
        return await self.inner.query(
            partition,
            index=index,
            prefix=prefix,
            after=after,
            limit=limit,
            descending=descending,
        )

    async def write(self, ops: Sequence[WriteOp]) -> None:
        await asyncio.sleep(self._delay)
        await self.inner.write(ops)

    async def scan(self, *, page_size: int = 500) -> AsyncIterator[list[Item]]:
        async for page in self.inner.scan(page_size=page_size):
            await asyncio.sleep(self._delay)
            yield page

    async def ping(self) -> None:
        await asyncio.sleep(self._delay)
        await self.inner.ping()
