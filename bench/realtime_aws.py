"""Realtime on the AWS path: what one committed file change costs the stream function.

The stream function (api/realtime_aws/stream.py) runs as on Lambda, over the port fakes
that count calls: each ItemStore call is one DynamoDB request on AWS (a Query page, a
BatchGetItem), each ConnectionGateway send is one PostToConnection. One user owns a file
and has MATCHING subscribed connections; IDLE other users each hold a connection with a
subscription (to all their own files, or to one of their own files). Then one UPDATED
change of the owner's file is fed to the function, as a stream record would be.

Figures, with IDLE = 10 and IDLE = 1000:
- PostToConnection calls per event: must equal the matching subscribers (no broadcast);
- connections-table Queries and items-table reads per event: must not grow with IDLE.

Run: `.venv/bin/python -m bench.realtime_aws`
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from adapters.blobs.memory import InMemoryBlobStore
from adapters.items.memory import InMemoryItemStore
from adapters.realtime.memory import MemoryConnections
from api.app import query_limits, subscription_limits
from api.bootstrap import build_services
from api.realtime_aws.runtime import Realtime
from api.realtime_aws.stream import StreamDelivery, StreamFigures
from api.settings import load_settings
from bench.figures import Figure
from domain.events import FileEventInterest
from domain.files.items import file_to_item
from domain.models import FileRecord, FileStatus, Principal, Visibility
from domain.ports import Item, Page, Put, WriteOp
from domain.realtime import ConnectionRegistry, StoredSubscription, StreamChange, route_of
from resolvers.schema import build_schema

COMMAND = ".venv/bin/python -m bench.realtime_aws"
MATCHING = 5
IDLE_COUNTS = (10, 1000)
QUERY = "subscription { fileEvents { kind fileId version file { name description } } }"
ONE = "subscription($id: ID) { fileEvents(fileId: $id) { kind fileId } }"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class CountingStore:
    """An ItemStore that counts the calls (one DynamoDB request each on AWS)."""

    def __init__(self, inner: InMemoryItemStore) -> None:
        self.inner = inner
        self.reads = 0
        self.writes = 0

    async def get_many(self, keys: Any) -> list[Item | None]:
        self.reads += 1
        return await self.inner.get_many(keys)

    async def query(self, partition: str, **kw: Any) -> Page:
        self.reads += 1
        return await self.inner.query(partition, **kw)

    async def write(self, ops: list[WriteOp]) -> None:
        self.writes += 1
        await self.inner.write(ops)

    def scan(self, *, page_size: int = 500) -> Any:
        return self.inner.scan(page_size=page_size)

    async def ping(self) -> None:
        await self.inner.ping()


def _record(file_id: str, owner: str, version: int, description: str | None) -> FileRecord:
    return FileRecord(
        id=file_id,
        owner_id=owner,
        name=f"{file_id}.txt",
        content_type="text/plain",
        size=1,
        sha256=None,
        status=FileStatus.READY,
        visibility=Visibility.PRIVATE,
        description=description,
        tags=(),
        shared_with=(),
        version=version,
        created_at=T0,
        updated_at=T0,
        blob_key=f"files/{file_id}/blob",
    )


@dataclass
class AwsPathRow:
    idle: int
    matching: int
    posts: int
    subscriber_queries: int
    item_reads: int
    seconds: float


async def measure(idle: int, matching: int = MATCHING) -> AwsPathRow:
    items = CountingStore(InMemoryItemStore())
    connections = CountingStore(InMemoryItemStore())
    settings = load_settings()
    services = build_services(settings, items, InMemoryBlobStore(), b"k" * 32)  # type: ignore[arg-type]
    gateway = MemoryConnections()
    registry = ConnectionRegistry(connections)  # type: ignore[arg-type]
    rt = Realtime(
        schema=build_schema(limits=query_limits(settings)),
        services=services,
        verifier=None,  # type: ignore[arg-type]  # nobody signs in here
        registry=registry,
        gateway=gateway,
        limits=subscription_limits(settings),
        decode_change=lambda record: record,
    )
    expires = int(time.time()) + 3600
    owner = Principal(user_id="owner", username="owner")
    before = _record("f-owner", "owner", 2, None)
    await items.inner.write([_put(file_to_item(before))])
    subscribers: list[tuple[str, Principal, str | None]] = [
        (f"m{n}", owner, None) for n in range(matching)
    ]
    for n in range(idle):
        user = Principal(user_id=f"u{n}", username=f"u{n}")
        own = _record(f"f{n}", user.user_id, 1, None)
        await items.inner.write([_put(file_to_item(own))])
        subscribers.append((f"i{n}", user, own.id if n % 2 else None))
    for connection_id, viewer, one in subscribers:
        gateway.connect(connection_id)
        await registry.open(connection_id, expires)
        await registry.acknowledge(connection_id, viewer, expires)
        interest = FileEventInterest(viewer, one)
        variables: dict[str, object] | None = {"id": one} if one else None
        query = ONE if one else QUERY
        stored = StoredSubscription(
            connection_id, "s1", viewer, route_of(interest), query, variables
        )
        await registry.add_subscription(stored, expires)
    after = replace(before, version=3, description="changed")
    await items.inner.write([_put(file_to_item(after))])
    change = StreamChange("1", file_to_item(before), file_to_item(after), time.time())
    items.reads = connections.reads = gateway.sends = 0
    started = time.perf_counter()
    figures: StreamFigures = await StreamDelivery(rt).process([change])
    seconds = time.perf_counter() - started
    assert not figures.failed_records, figures
    delivered = [c for c, messages in gateway.sent.items() if messages]
    assert sorted(delivered) == sorted(f"m{n}" for n in range(matching)), delivered
    return AwsPathRow(idle, matching, gateway.sends, connections.reads, items.reads, seconds)


def _put(item: Item) -> WriteOp:
    return Put(item)


def report(rows: list[AwsPathRow]) -> str:
    lines = ["AWS path: one UPDATED change, the stream function over counting fakes"]
    for row in rows:
        lines.append(
            f"  {row.idle:>5} idle connections of other users, {row.matching} matching: "
            f"{row.posts} PostToConnection, {row.subscriber_queries} subscriber Queries, "
            f"{row.item_reads} items-table reads ({row.seconds * 1000:.1f} ms over the fakes)"
        )
    return "\n".join(lines)


def figures(rows: list[AwsPathRow], command: str = COMMAND) -> list[Figure]:
    small, large = rows[0], rows[-1]
    return [
        Figure(
            name="realtime AWS: PostToConnection per event",
            what=f"posts for one event with {large.matching} matching subscribers, "
            f"{large.idle} idle connections of other users",
            command=command,
            value=large.posts,
            unit="calls",
            baseline=large.matching,
            baseline_what="matching subscribers",
            target=1.0,
        ),
        Figure(
            name="realtime AWS: DynamoDB requests per event",
            what=f"connections Queries + items reads, {large.idle} vs {small.idle} idle "
            "connections of other users",
            command=command,
            value=large.subscriber_queries + large.item_reads,
            unit="requests",
            baseline=small.subscriber_queries + small.item_reads,
            baseline_what=f"with {small.idle} idle connections",
            target=1.0,
        ),
    ]


def run() -> list[AwsPathRow]:
    return [asyncio.run(measure(idle)) for idle in IDLE_COUNTS]


def main() -> None:
    print(report(run()))


if __name__ == "__main__":
    main()
