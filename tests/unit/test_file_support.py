"""Shared set-up for the file unit tests (a module of helpers, plus the tests that prove
the helpers do what the concurrency tests rely on)."""

import asyncio
import hashlib
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.blobs.memory import InMemoryBlobStore
from adapters.items.memory import InMemoryItemStore
from domain.errors import ConflictError
from domain.files import FileLimits, FileService, NewFile
from domain.models import ADMIN_GROUP, FileRecord, Principal, User
from domain.ports import Item, ItemStore, Key, Page, Put, VersionIs, WriteOp
from domain.users import UserRepository

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PENDING_TTL = 24 * 3600
UPLOAD_EXPIRY = 900


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Ids:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"file{self.count:04d}"


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


def expire_items(items: InMemoryItemStore, now: datetime) -> None:
    """What DynamoDB's TTL sweeper eventually does: drop items past ``expires_at``."""
    for key, item in list(items.items.items()):
        if "expires_at" in item and item["expires_at"] <= now.timestamp():
            del items.items[key]


def file_items_of(items: InMemoryItemStore) -> list[Item]:
    return [item for (pk, _), item in items.items.items() if pk.startswith("FILE#")]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class World:
    items: InMemoryItemStore
    store: CountingItemStore
    blobs: InMemoryBlobStore
    clock: Clock
    service: FileService
    users: dict[str, Principal] = field(default_factory=dict)

    async def user(self, username: str, *, admin: bool = False) -> Principal:
        if username in self.users:
            return self.users[username]
        user_id = f"id-{username}"
        groups = (ADMIN_GROUP,) if admin else ()
        await UserRepository(self.items).create(
            User(user_id, username, None, None, groups, self.clock(), self.clock())
        )
        self.users[username] = Principal(user_id, username, groups=groups)
        return self.users[username]

    async def pending(
        self, owner: Principal, data: bytes = b"hello", **declared: Any
    ) -> FileRecord:
        fields: dict[str, Any] = {"name": "notes.txt", "content_type": "text/plain"}
        record, _ = await self.service.create_upload(
            owner, NewFile(**(fields | {"size": len(data)} | declared))
        )
        return record

    async def ready(self, owner: Principal, data: bytes = b"hello", **declared: Any) -> FileRecord:
        """A file uploaded through its target the way a client would, then completed."""
        fields: dict[str, Any] = {"name": "notes.txt", "content_type": "text/plain"}
        record, target = await self.service.create_upload(
            owner, NewFile(**(fields | {"size": len(data)} | declared))
        )
        self.blobs.receive_upload(target.url, data, target.headers)
        return await self.service.complete_upload(owner, record.id)


def make_world(
    *,
    interleaving: bool = False,
    blob_store: type[InMemoryBlobStore] = InMemoryBlobStore,
    **limits: int,
) -> World:
    items = InMemoryItemStore()
    store = InterleavingItemStore(items) if interleaving else CountingItemStore(items)
    clock = Clock()
    blobs = blob_store(clock=lambda: clock().timestamp())
    settings = {
        "max_upload_bytes": 10_000,
        "quota_bytes": 100_000,
        "pending_ttl_seconds": PENDING_TTL,
        "upload_expiry_seconds": UPLOAD_EXPIRY,
    } | limits
    service = FileService(
        items=store, blobs=blobs, clock=clock, id_factory=Ids(), limits=FileLimits(**settings)
    )
    return World(items, store, blobs, clock, service)


# --- the helpers themselves -------------------------------------------------------------


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
