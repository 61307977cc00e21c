"""The store decorator that applies each HTTP request's sign-out check
(resolvers/session_check.py): applied by the composition root to the store every domain
service uses. Outside a checked operation a call costs one contextvar read."""

from collections.abc import AsyncIterator, Sequence
from typing import Any

from domain.ports import Item, ItemStore, Key, Page, WriteOp
from resolvers.session_check import active_session_check


class SessionGatedItemStore:
    def __init__(self, inner: ItemStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:  # adapter extras (close, ...) pass through
        return getattr(self.inner, name)

    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        check = active_session_check()
        if check is None or check.passed:
            return await self.inner.get_many(keys)
        return await check.read_through(self.inner.get_many, keys)

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
        await _checked()
        return await self.inner.query(
            partition,
            index=index,
            prefix=prefix,
            after=after,
            limit=limit,
            descending=descending,
        )

    async def write(self, ops: Sequence[WriteOp]) -> None:
        await _checked()
        await self.inner.write(ops)

    async def scan(self, *, page_size: int = 500) -> AsyncIterator[list[Item]]:
        await _checked()
        async for page in self.inner.scan(page_size=page_size):
            yield page

    async def ping(self) -> None:
        await self.inner.ping()  # answers nothing from the store


async def _checked() -> None:
    check = active_session_check()
    if check is not None and not check.passed:
        await check.wait()
