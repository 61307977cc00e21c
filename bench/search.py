"""Search latency and items read per query at growing corpus sizes, on SQLite, beside a
naive scan-and-score baseline. See bench/README.md "Search".

    .venv/bin/python -m bench.search --sizes 1000 10000 100000 --runs 30
"""

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from adapters.items.sqlite import SqliteItemStore
from domain.access import may_read_file
from domain.files import file_from_item, file_key, file_to_item
from domain.models import FileRecord, FileStatus, Principal, Visibility
from domain.ports import Item, ItemStore, Key, Page, Put, WriteOp
from domain.search.analyzer import terms
from domain.search.documents import FILE, Document, file_document
from domain.search.engine import QueryTerms, search_kind
from domain.search.indexer import SearchIndexer
from domain.search.models import SearchFilter
from domain.search.service import parse_query
from domain.search.sources import FileSource

NOW = datetime(2026, 1, 1, tzinfo=UTC)
VIEWER = Principal(user_id="u-0", username="viewer")
QUERIES = {
    "one term": "zebra",
    "two terms": "zebra report",
    "three terms": "zebra report 2024",
    "prefix": "zeb",
    "one common term": "report",
}
PLANTED = 20  # documents holding "zebra", at every size: a selective query


class CountingStore:
    def __init__(self, inner: ItemStore) -> None:
        self.inner, self.read = inner, 0

    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        found = await self.inner.get_many(keys)
        self.read += len(keys)
        return found

    async def query(self, partition: str, **kwargs: object) -> Page:
        page = await self.inner.query(partition, **kwargs)  # type: ignore[arg-type]
        self.read += len(page.items)
        return page

    async def write(self, ops: Sequence[WriteOp]) -> None:
        await self.inner.write(ops)

    async def scan(self, *, page_size: int = 500) -> AsyncIterator[list[Item]]:
        async for page in self.inner.scan(page_size=page_size):
            self.read += len(page)
            yield page

    async def ping(self) -> None:
        await self.inner.ping()


def _record(n: int, rng: random.Random, words: list[str]) -> FileRecord:
    name = " ".join(rng.choice(words) for _ in range(3))
    if rng.random() < 0.3:
        name += " report"
    if rng.random() < 0.2:
        name += " 2024"
    description = " ".join(rng.choice(words) for _ in range(8))
    return FileRecord(
        id=f"f{n:07d}",
        owner_id=f"u-{n % 50}",
        name=name + ".pdf",
        content_type="application/pdf",
        size=1,
        sha256=None,
        status=FileStatus.READY,
        visibility=Visibility.PUBLIC if n % 3 == 0 else Visibility.PRIVATE,
        description=description,
        tags=(),
        shared_with=(),
        version=1,
        created_at=NOW,
        updated_at=NOW,
        blob_key=f"files/f{n:07d}/blob",
    )


async def seed(store: ItemStore, start: int, stop: int) -> None:
    rng = random.Random(start)
    letters = random.Random(0)
    words = ["".join(letters.choices("abcdefghijklmnopqrstuvwxy", k=6)) for _ in range(5000)]
    indexer = SearchIndexer(store)
    gate = asyncio.Semaphore(16)

    async def one(n: int) -> None:
        record = _record(n, rng, words)
        if n < 1000 and n % (1000 // PLANTED) == 0:  # the same 20 at every size
            record = replace(record, name=record.name + " zebra report 2024")
        async with gate:
            await store.write([Put(file_to_item(record))])
            await indexer.sync(FILE, record.id, _loader(store, record.id))

    await asyncio.gather(*(one(n) for n in range(start, stop)))


def _loader(store: ItemStore, file_id: str) -> Callable[[], Awaitable[Document | None]]:
    async def load() -> Document | None:
        [item] = await store.get_many([file_key(file_id)])
        return file_document(None if item is None else file_from_item(item))

    return load


async def indexed_query(store: CountingStore, text: str) -> int:
    parsed: QueryTerms = parse_query(text)
    source = FileSource(store, VIEWER, SearchFilter(), lambda: NOW)
    return len(await search_kind(store, source, parsed))


async def naive_query(store: CountingStore, text: str) -> int:
    """Scan everything, analyse every readable file, keep those matching all terms."""
    parsed = parse_query(text)
    found = 0
    async for page in store.scan(page_size=1000):
        for item in page:
            if item.get("type") != "File":
                continue
            record = file_from_item(item)
            if not may_read_file(VIEWER, record):
                continue
            present = set(terms(f"{record.name} {record.description} {record.content_type}"))
            last = parsed.prefix or ""
            if all(t in present for t in parsed.exact) and any(t.startswith(last) for t in present):
                found += 1
    return found


async def measure(
    store: CountingStore, text: str, runs: int, naive: bool
) -> tuple[float, float, int]:
    times: list[float] = []
    for _ in range(runs):
        store.read = 0
        started = time.perf_counter()
        await (naive_query if naive else indexed_query)(store, text)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, store.read


async def main(sizes: list[int], runs: int, naive_runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        inner = SqliteItemStore(Path(tmp) / "bench.sqlite3")
        store = CountingStore(inner)
        seeded = 0
        try:
            for size in sorted(sizes):
                started = time.perf_counter()
                await seed(inner, seeded, size)
                took = time.perf_counter() - started
                print(f"\n{size} files (seeded {size - seeded} in {took:.0f} s)")
                seeded = size
                print(
                    f"  {'query':<18}{'p50 ms':>9}{'p95 ms':>9}{'items':>9}   naive: p50 ms  items"
                )
                for label, text in QUERIES.items():
                    p50, p95, read = await measure(store, text, runs, naive=False)
                    n50, _, nread = await measure(store, text, naive_runs, naive=True)
                    print(f"  {label:<18}{p50:9.1f}{p95:9.1f}{read:9d}   {n50:13.0f}{nread:8d}")
        finally:
            await inner.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--naive-runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.sizes, args.runs, args.naive_runs))
