"""Shared set-up for the file unit tests: a world of in-memory stores, a fake clock and
file ids, and users and files made the way a client makes them."""

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.blobs.memory import InMemoryBlobStore
from adapters.items.memory import InMemoryItemStore
from domain.files import FileLimits, FileService, NewFile
from domain.models import ADMIN_GROUP, FileRecord, Principal, User
from domain.ports import Item
from domain.users import UserRepository
from tests.support.clock import FakeClock
from tests.support.stores import CountingItemStore, InterleavingItemStore

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PENDING_TTL = 24 * 3600
UPLOAD_EXPIRY = 900


class Ids:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"file{self.count:04d}"


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
    clock: FakeClock
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
        assert target is not None
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
    clock = FakeClock(T0)
    blobs = blob_store(clock=clock.seconds)
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
