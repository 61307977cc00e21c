"""known_now: a loader's answer is used without awaiting only when the request already has
it; anything still to load, or a load that failed, goes through ``await load()`` as before."""

import asyncio

import pytest
from strawberry.dataloader import DataLoader

from resolvers.loaders import known_now


async def test_a_primed_key_is_known_and_an_unread_one_is_not() -> None:
    calls: list[list[str]] = []

    async def load(keys: list[str]) -> list[str]:
        calls.append(keys)
        return [key.upper() for key in keys]

    loader = DataLoader(load_fn=load)
    loader.prime("viewer", "VIEWER")

    known = known_now(loader, "viewer")
    assert known is not None and known.result() == "VIEWER"
    assert known_now(loader, "other") is None
    assert calls == []  # looking never starts a load

    pending = loader.load("other")
    assert known_now(loader, "other") is None  # asked for, not answered yet
    assert await pending == "OTHER"
    known = known_now(loader, "other")
    assert known is not None and known.result() == "OTHER"
    assert calls == [["other"]]


async def test_a_failed_load_is_not_known_so_awaiting_raises_it() -> None:
    async def load(keys: list[str]) -> list[str]:
        raise RuntimeError("store down")

    loader = DataLoader(load_fn=load)
    with pytest.raises(RuntimeError):
        await loader.load("k")
    assert known_now(loader, "k") is None


async def test_a_loader_without_cache_never_answers_early() -> None:
    async def load(keys: list[str]) -> list[str]:
        return keys

    loader = DataLoader(load_fn=load, cache=False)
    await asyncio.gather(loader.load("k"))
    assert known_now(loader, "k") is None
