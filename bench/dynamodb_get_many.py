"""DynamoDB get_many: BatchGetItem calls and wall time, chunks concurrent vs one by one.

Runs against moto's server on 127.0.0.1 (real HTTP, no AWS). For each key count it reads
the same keys with the adapter as shipped (chunks of <= 100 keys issued concurrently) and
with a subclass that awaits the chunks one after another; the two alternate so that machine
noise hits both alike. Prints medians.

moto answers from one Python process and spends CPU, not waiting, on every request, so it
cannot serve chunks in parallel; DynamoDB's time per request is mostly waiting (network and
storage). The second table therefore adds a fixed round trip per BatchGetItem (a blocking
sleep on the calling thread, as a socket wait would be) to show what concurrency buys there.

Run: `.venv/bin/python -m bench.dynamodb_get_many [--runs 15] [--round-trip-ms 10]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from adapters.items.dynamodb.codec import to_attributes
from adapters.items.dynamodb.store import DynamoDbItemStore
from bench.figures import Figure
from domain.ports import Item, Key
from ops.aws_resources import create_table
from tests.support.moto_server import dynamodb_client, moto_server

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef

COMMAND = ".venv/bin/python -m bench.dynamodb_get_many"
KEY_COUNTS = (1, 100, 250, 1000)
TABLE = "bench-items"
_BATCH_WRITE = 25  # BatchWriteItem's limit


class SequentialChunks(DynamoDbItemStore):
    """The adapter with its chunks awaited one by one: what concurrency is measured against."""

    async def _read_chunks(
        self, chunks: list[list[tuple[str, str]]]
    ) -> list[dict[tuple[str, str], Item]]:
        return [await self._read_chunk(chunk) for chunk in chunks]


class CallCounter:
    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()  # chunks run on worker threads

    def __call__(self, **_: Any) -> None:
        with self._lock:
            self.calls += 1


def seed(client: DynamoDBClient, count: int) -> list[Key]:
    # ~200 bytes per item, like a file's metadata. BatchWriteItem, not the adapter's
    # transactions: moto copies the whole table for every transaction, which takes minutes.
    items = [
        {"pk": f"FILE#{i:05}", "sk": "META", "name": f"report-{i}.pdf", "body": "x" * 150}
        for i in range(count)
    ]
    for start in range(0, count, _BATCH_WRITE):
        puts: list[WriteRequestTypeDef] = [
            {"PutRequest": {"Item": to_attributes(entry)}}
            for entry in items[start : start + _BATCH_WRITE]
        ]
        client.batch_write_item(RequestItems={TABLE: puts})
    return [Key(entry["pk"], entry["sk"]) for entry in items]


def add_round_trip(client: DynamoDBClient, seconds: float) -> None:
    def wait(**_: Any) -> None:
        time.sleep(seconds)

    client.meta.events.register("before-send.dynamodb.BatchGetItem", wait)


async def timed(store: DynamoDbItemStore, keys: list[Key]) -> float:
    started = time.perf_counter()
    found = await store.get_many(keys)
    elapsed = time.perf_counter() - started
    if None in found:
        raise RuntimeError("a seeded item was not read back")
    return elapsed


@dataclass(frozen=True)
class GetManyRow:
    round_trip_ms: float
    keys: int
    calls: int
    concurrent_ms: float
    sequential_ms: float


async def run(
    runs: int, round_trip_ms: float, key_counts: tuple[int, ...] = KEY_COUNTS
) -> list[GetManyRow]:
    with moto_server() as endpoint:
        setup = dynamodb_client(endpoint)
        create_table(setup, TABLE)
        keys = seed(setup, max(key_counts))
        setup.close()
        rows = await measure(endpoint, keys, runs, round_trip_ms=0, key_counts=key_counts)
        if round_trip_ms:
            rows += await measure(
                endpoint, keys, runs, round_trip_ms=round_trip_ms, key_counts=key_counts
            )
        return rows


def figures(rows: list[GetManyRow], command: str = COMMAND) -> list[Figure]:
    out = []
    for row in rows:
        where = f" + {row.round_trip_ms:g} ms round trip" if row.round_trip_ms else ""
        out.append(
            Figure(
                name=f"dynamodb get_many: {row.keys} keys{where}",
                what=f"moto server{where}; {row.calls} BatchGetItem calls, chunks concurrent",
                command=command,
                value=row.concurrent_ms,
                unit="ms",
                baseline=row.sequential_ms,
                baseline_what="chunks awaited one by one",
            )
        )
    return out


async def measure(
    endpoint: str,
    keys: list[Key],
    runs: int,
    *,
    round_trip_ms: float,
    key_counts: tuple[int, ...] = KEY_COUNTS,
) -> list[GetManyRow]:
    client = dynamodb_client(endpoint)
    counter = CallCounter()
    client.meta.events.register("before-call.dynamodb.BatchGetItem", counter)
    if round_trip_ms:
        add_round_trip(client, round_trip_ms / 1000)
    concurrent = DynamoDbItemStore(client, TABLE)
    sequential = SequentialChunks(client, TABLE)
    extra = f" + {round_trip_ms:g} ms round trip per call" if round_trip_ms else ""
    print(f"\nmoto server on 127.0.0.1{extra}; median of {runs} runs per cell")
    print(f"{'keys':>6} {'calls':>6} {'concurrent ms':>14} {'sequential ms':>14} {'speed-up':>9}")
    rows: list[GetManyRow] = []
    try:
        for count in key_counts:
            wanted = keys[:count]
            counter.calls = 0
            await timed(concurrent, wanted)
            calls = counter.calls
            await timed(sequential, wanted)  # both paths warm before measuring
            together: list[float] = []
            one_by_one: list[float] = []
            for _ in range(runs):
                together.append(await timed(concurrent, wanted))
                one_by_one.append(await timed(sequential, wanted))
            fast, slow = statistics.median(together), statistics.median(one_by_one)
            print(
                f"{count:>6} {calls:>6} {fast * 1000:>14.1f} {slow * 1000:>14.1f} "
                f"{slow / fast:>8.2f}x"
            )
            rows.append(GetManyRow(round_trip_ms, count, calls, fast * 1000, slow * 1000))
    finally:
        client.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--round-trip-ms", type=float, default=10.0)
    args = parser.parse_args(argv)
    asyncio.run(run(args.runs, args.round_trip_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
