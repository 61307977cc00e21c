"""Index documents that have no index yet in atomic writes: many, several per write (a
restore's rebuild), or one, alone in its write (a file that just became READY). The
per-document sync (indexer.py) costs about ten store round trips a document, which at a
million files is most of a restore's time, and under load most of an upload's.

A document's whole index goes into one atomic write together with a few other documents:
its postings, its *settled* state item (condition ``Absent``) and its share of the
counters (the store's atomic ``Add``, summed per counter over the write). So a crash or a
conflict leaves each document either fully indexed and counted or not indexed at all,
which is stronger than the per-document sync's ordering. A write whose ``Absent`` fails
(the document was indexed meanwhile, or before a forced restore) writes nothing; its
documents then go through the per-document sync, which converges from whatever is there.
A document too big for one write (> MAX_WRITE_ITEMS items) is synced alone too.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from domain.errors import ConflictError
from domain.ports import MAX_WRITE_ITEMS, Absent, Add, Item, ItemStore, Key, Put, WriteOp
from domain.search import keys
from domain.search.counters import LENGTH_PREFIX
from domain.search.documents import Document
from domain.search.indexer import LoadDocument, postings, signature, state_item

Sync = Callable[[Document], Awaitable[object]]
# A counter, the amounts to add to it, its attributes when it is created.
_Addition = tuple[Key, dict[str, int], Item]
# Writes in flight: enough to keep the store busy while the next batch is built.
CONCURRENCY = 4


class _Batch:
    """The ops of a few documents' indexes, counters summed per key."""

    def __init__(self) -> None:
        self.documents: list[Document] = []
        self.puts: list[Put] = []
        self.adds: dict[Key, tuple[dict[str, int], Item]] = {}

    def size_with(self, puts: int, adds: Sequence[Key]) -> int:
        return len(self.puts) + puts + len(self.adds) + sum(k not in self.adds for k in adds)

    def add(self, doc: Document, puts: list[Put], adds: list[_Addition]) -> None:
        self.documents.append(doc)
        self.puts += puts
        for key, deltas, defaults in adds:
            summed, _ = self.adds.setdefault(key, ({}, defaults))
            for name, delta in deltas.items():
                summed[name] = summed.get(name, 0) + delta

    def ops(self) -> list[WriteOp]:
        adds = [Add(key, delta, defaults=defaults) for key, (delta, defaults) in self.adds.items()]
        return [*self.puts, *adds]


def document_ops(doc: Document) -> tuple[list[Put], list[_Addition]]:
    """The puts (postings, settled state) and counter additions of a new document."""
    field_terms = doc.field_terms()
    terms = frozenset(term for counts in field_terms.values() for term in counts)
    lengths = {field: sum(counts.values()) for field, counts in field_terms.items()}
    state = state_item(doc.kind, doc.id, 1, doc.content_hash, terms, frozenset(), lengths)
    state["scopes"] = state["counted_scopes"] = sorted(doc.scopes)
    puts = [Put(item) for item in postings(doc, field_terms)]
    puts.append(Put(state, condition=Absent()))
    shard = keys.shard_of(doc.id, keys.DF_SHARDS)
    adds: list[_Addition] = [
        (
            keys.df_key(doc.kind, term, shard, scope),
            {"df": 1, "version": 1},
            {"type": "SearchTerm", "term": term},
        )
        for scope in sorted(doc.scopes)
        for term in sorted(terms)
    ]
    stats = {"docs": 1, **{LENGTH_PREFIX + f: n for f, n in lengths.items() if n}}
    stats_key = keys.stats_key(doc.kind, keys.shard_of(doc.id, keys.STATS_SHARDS))
    adds.append((stats_key, stats, {"type": "SearchStats"}))
    return puts, adds


def document_write(doc: Document) -> list[WriteOp] | None:
    """The one atomic write that indexes ``doc`` from nothing; None when it would not fit."""
    batch = _Batch()
    batch.add(doc, *document_ops(doc))
    ops = batch.ops()
    return ops if len(ops) <= MAX_WRITE_ITEMS else None


async def index_fresh(
    store: ItemStore, doc: Document, *, current: LoadDocument, sync: Callable[[], Awaitable[object]]
) -> None:
    """Index ``doc``, which most likely has no index yet (a file just made READY), in one
    write. ``sync`` (the per-document sync) takes over, converging from whatever is there,
    when it has an index already (the write's ``Absent`` fails and writes nothing), when it
    is too big for one write, or when ``current()`` shows the metadata moved on between
    reading ``doc`` and the write: the index must end up matching the current metadata."""
    ops = document_write(doc)
    if ops is not None:
        try:
            await store.write(ops)
        except ConflictError:
            pass
        else:
            if signature(await current()) == signature(doc):
                return
    await sync()


async def index_new(
    store: ItemStore, documents: Sequence[Document], sync: Sync, *, concurrency: int = CONCURRENCY
) -> None:
    """Index ``documents`` (each id once); those that already have an index, or are too big
    for one write, go through ``sync`` (the per-document sync) instead. ``concurrency``
    bounds the writes in flight."""
    gate = asyncio.Semaphore(concurrency)
    pending: set[asyncio.Task[None]] = set()

    async def write(batch: _Batch) -> None:
        try:
            async with gate:
                await store.write(batch.ops())
        except ConflictError:
            for doc in batch.documents:
                await sync(doc)

    def flush(batch: _Batch) -> None:
        if batch.documents:
            pending.add(asyncio.create_task(write(batch)))

    async def settle(until: int) -> None:
        """Wait until at most ``until`` writes are in flight; the first failure is raised."""
        while len(pending) > until:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            pending.difference_update(done)
            failures = [error for task in done if (error := task.exception()) is not None]
            if failures:
                raise failures[0]

    batch = _Batch()
    try:
        for doc in documents:
            puts, adds = document_ops(doc)
            if len(puts) + len(adds) > MAX_WRITE_ITEMS:
                await sync(doc)
                continue
            if batch.size_with(len(puts), [key for key, _, _ in adds]) > MAX_WRITE_ITEMS:
                flush(batch)
                batch = _Batch()
                # Back-pressure: never build more than a few batches ahead of the store.
                await settle(concurrency * 2 - 1)
            batch.add(doc, puts, adds)
        flush(batch)
        await settle(0)
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
