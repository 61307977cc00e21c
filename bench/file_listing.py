"""Files: batched reads. Store calls and latency of one page of ``myFiles`` with every
file's owner and sharedWith, batched by the per-request DataLoaders vs a naive baseline.

The schema runs in-process (no HTTP) over a SQLite ItemStore in a temporary file, wrapped
in a call-counting ItemStore. The viewer owns ``--files`` files, each shared with
``--shares`` of ``--users`` other users (round robin), seeded through the FileService
itself (createUpload, bytes, completeUpload, shareFile). Measured query:

    myFiles(first: $n) { edges { node { owner { username } sharedWith { username } } } }

- batched: the schema exactly as shipped, a fresh Context (fresh loaders) per run;
- naive: the same schema, resolvers and data, but each of the Context's DataLoaders is
  swapped for one that neither batches (max_batch_size=1) nor caches, so every
  ``load(key)`` is its own ``get_many([key])``: what resolvers without loaders cost, one
  point read per edge (the owner once per file, every sharedWith user once per file).

The two alternate run by run so machine noise hits both alike; medians of ``--runs``.
``--round-trip-ms`` adds a fixed wait to every store call (a blocking sleep in a worker
thread before the call, as a boto3 call in asyncio.to_thread would wait on its socket) to
show what the difference becomes against a networked store such as DynamoDB.

Run: `.venv/bin/python -m bench.file_listing [--runs 21] [--round-trip-ms 5]`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from strawberry.dataloader import DataLoader

from adapters.blobs.memory import InMemoryBlobStore
from adapters.items.sqlite import SqliteItemStore
from bench.figures import Figure
from domain.cursor_signer import CursorSigner
from domain.files import FileLimits, FileService, NewFile, new_file_id
from domain.models import Principal
from domain.ports import Item, ItemStore, Key, Page, WriteOp
from domain.users import UserProfiles, UserRepository
from resolvers.context import Context
from resolvers.schema import build_schema
from resolvers.services import Services

COMMAND = ".venv/bin/python -m bench.file_listing"
PAGE_SIZES = (10, 100)
QUERY = """
query Listing($n: Int!) {
  myFiles(first: $n) { edges { node { owner { username } sharedWith { username } } } }
}
"""
CONTENT = b"bench bytes\n"


class CountingItemStore:
    """An ItemStore that counts calls by operation (and keys read), then delegates."""

    def __init__(self, inner: ItemStore, *, round_trip: float = 0.0) -> None:
        self.inner = inner
        self.round_trip = round_trip
        self.calls: Counter[str] = Counter()
        self.keys_read = 0

    def reset(self) -> None:
        self.calls.clear()
        self.keys_read = 0

    async def _wait(self) -> None:
        if self.round_trip:
            await asyncio.to_thread(time.sleep, self.round_trip)

    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        self.calls["get_many"] += 1
        self.keys_read += len(keys)
        await self._wait()
        return await self.inner.get_many(keys)

    async def query(self, partition: str, **kwargs: Any) -> Page:
        self.calls["query"] += 1
        await self._wait()
        return await self.inner.query(partition, **kwargs)

    async def write(self, ops: Sequence[WriteOp]) -> None:
        self.calls["write"] += 1
        await self.inner.write(ops)

    def scan(self, *, page_size: int = 500) -> AsyncIterator[list[Item]]:
        self.calls["scan"] += 1
        return self.inner.scan(page_size=page_size)

    async def ping(self) -> None:
        await self.inner.ping()


@dataclass
class Setup:
    store: CountingItemStore
    services: Services
    viewer: Principal
    distinct_users: dict[int, int]  # page size -> distinct users on that page (owner incl.)


def build_services(store: ItemStore, blobs: InMemoryBlobStore) -> Services:
    users = UserRepository(store)
    return Services(
        users=users,
        profiles=UserProfiles(users, clock=lambda: datetime.now(UTC)),
        files=FileService(
            items=store,
            blobs=blobs,
            clock=lambda: datetime.now(UTC),
            id_factory=new_file_id,
            limits=FileLimits(
                max_upload_bytes=1024 * 1024,
                quota_bytes=1024 * 1024 * 1024,
                pending_ttl_seconds=3600,
                upload_expiry_seconds=900,
            ),
        ),
        cursors=CursorSigner(b"bench-cursor-key-0123456789abcdef"),
    )


async def seed(
    services: Services, blobs: InMemoryBlobStore, *, files: int, users: int, shares: int
) -> tuple[Principal, list[list[str]]]:
    """The viewer and, newest first, the user ids each of its files is shared with."""
    viewer = Principal(user_id="u-viewer", username="viewer", email=None, groups=())
    others = [
        Principal(user_id=f"u-{i:04}", username=f"user{i:04}", email=None, groups=())
        for i in range(users)
    ]
    for principal in (viewer, *others):
        await services.profiles.ensure_profile(principal)
    digest = hashlib.sha256(CONTENT).hexdigest()
    shared: list[list[str]] = []
    for n in range(files):
        record, _ = await services.files.create_upload(
            viewer,
            NewFile(
                name=f"report-{n:04}.txt",
                content_type="text/plain",
                size=len(CONTENT),
                sha256=digest,
            ),
        )
        blobs.put_object(record.blob_key, CONTENT, "text/plain")
        await services.files.complete_upload(viewer, record.id)
        with_whom = [others[(n * shares + j) % users] for j in range(shares)]
        for other in with_whom:
            await services.files.share_file(viewer, record.id, other.username)
        shared.append([other.user_id for other in with_whom])
    shared.reverse()  # myFiles lists newest first
    return viewer, shared


def naive(context: Context) -> Context:
    """The same Context with every DataLoader replaced by a non-batching, non-caching one
    over the same load function: one get_many per key, as resolvers without loaders."""
    for name, loader in list(vars(context.loaders).items()):
        if isinstance(loader, DataLoader):
            setattr(
                context.loaders,
                name,
                DataLoader(load_fn=loader.load_fn, max_batch_size=1, cache=False),
            )
    return context


async def run_once(setup: Setup, schema: Any, page_size: int, *, batched: bool) -> float:
    context = Context(request_id="bench", services=setup.services, principal=setup.viewer)
    if not batched:
        naive(context)
    setup.store.reset()
    started = time.perf_counter()
    result = await schema.execute(QUERY, variable_values={"n": page_size}, context_value=context)
    elapsed = time.perf_counter() - started
    if result.errors:
        raise RuntimeError(f"query failed: {result.errors}")
    edges = result.data["myFiles"]["edges"]
    if len(edges) != page_size:
        raise RuntimeError(f"expected {page_size} files, got {len(edges)}")
    return elapsed


def describe_calls(store: CountingItemStore) -> str:
    return f"{store.calls['query']}q+{store.calls['get_many']}g"


@dataclass(frozen=True)
class ListingRow:
    round_trip_ms: float
    page: int
    users: int
    batched_calls: int
    naive_calls: int
    batched_ms: float
    naive_ms: float


async def measure(setup: Setup, runs: int, round_trip_ms: float) -> list[ListingRow]:
    schema = build_schema()
    setup.store.round_trip = round_trip_ms / 1000
    extra = f" + {round_trip_ms:g} ms per store call" if round_trip_ms else ""
    print(f"\nSQLite file{extra}; median of {runs} runs per cell")
    header = (
        f"{'page':>5} {'users':>6} {'batched calls':>14} {'naive calls':>12} "
        f"{'batched ms':>11} {'naive ms':>9} {'calls ratio':>12} {'ms ratio':>9}"
    )
    print(header)
    rows: list[ListingRow] = []
    for page_size in PAGE_SIZES:
        counts: dict[bool, tuple[int, str]] = {}
        for batched in (True, False):  # warm both paths and record their store calls
            await run_once(setup, schema, page_size, batched=batched)
            total = setup.store.calls["query"] + setup.store.calls["get_many"]
            counts[batched] = (total, describe_calls(setup.store))
        timings: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(runs):
            for batched in (True, False):
                timings[batched].append(await run_once(setup, schema, page_size, batched=batched))
        fast, slow = (statistics.median(timings[kind]) for kind in (True, False))
        print(
            f"{page_size:>5} {setup.distinct_users[page_size]:>6} "
            f"{counts[True][0]:>4} ({counts[True][1]:>6}) "
            f"{counts[False][0]:>4} ({counts[False][1]:>5}) "
            f"{fast * 1000:>11.1f} {slow * 1000:>9.1f} "
            f"{counts[False][0] / counts[True][0]:>11.1f}x {slow / fast:>8.1f}x"
        )
        rows.append(
            ListingRow(
                round_trip_ms,
                page_size,
                setup.distinct_users[page_size],
                counts[True][0],
                counts[False][0],
                fast * 1000,
                slow * 1000,
            )
        )
    return rows


async def run(
    files: int, users: int, shares: int, runs: int, round_trip_ms: float
) -> list[ListingRow]:
    with tempfile.TemporaryDirectory() as data_dir:
        sqlite = SqliteItemStore(Path(data_dir) / "items.sqlite3")
        try:
            store = CountingItemStore(sqlite)
            blobs = InMemoryBlobStore()
            services = build_services(store, blobs)
            started = time.perf_counter()
            viewer, shared = await seed(services, blobs, files=files, users=users, shares=shares)
            distinct = {
                size: len({viewer.user_id} | {uid for ids in shared[:size] for uid in ids})
                for size in PAGE_SIZES
            }
            print(
                f"seeded {files} files of one viewer, each shared with {shares} of {users} "
                f"users, in {time.perf_counter() - started:.1f} s"
            )
            print(
                "calls: q = ItemStore.query, g = ItemStore.get_many; users: distinct users "
                "on the page (owner included)"
            )
            setup = Setup(store, services, viewer, distinct)
            rows = await measure(setup, runs, 0)
            if round_trip_ms:
                rows += await measure(setup, runs, round_trip_ms)
            return rows
        finally:
            await sqlite.close()


def figures(rows: list[ListingRow], command: str = COMMAND) -> list[Figure]:
    out = []
    for row in rows:
        where = f" + {row.round_trip_ms:g} ms/call" if row.round_trip_ms else ""
        out.append(
            Figure(
                name=f"files: page of {row.page}{where}",
                what=(
                    f"myFiles with owner + sharedWith, SQLite{where}; store calls "
                    f"{row.batched_calls} batched vs {row.naive_calls} naive"
                ),
                command=command,
                value=row.batched_ms,
                unit="ms",
                baseline=row.naive_ms,
                baseline_what="same schema, loaders neither batching nor caching",
                target=1.0,
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--users", type=int, default=150)
    parser.add_argument("--shares", type=int, default=3, help="users each file is shared with")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--round-trip-ms", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.files < max(PAGE_SIZES):
        parser.error(f"--files must be at least {max(PAGE_SIZES)}")
    asyncio.run(run(args.files, args.users, args.shares, args.runs, args.round_trip_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
