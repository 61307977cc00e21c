"""Statistics kept as sharded counters in the ItemStore.

Document frequencies and the vocabulary are counted *per access scope* (keys.py): a file
counts once in each scope its postings are written to, so a viewer's query sums the
counters of its own scopes (PUBLIC + OWNER#V + SHARED#V, or ALL for admins; users are
unscoped) and reads nothing that counts a file it cannot read. A viewer's scopes hold
disjoint sets of files (documents.file_scopes), so the sum counts each readable file once.
Queries use them only to choose the driving term group and the prefix expansions, never in
a score (bm25.py). N and the field lengths (``collection``) are index-wide, maintained but
not read by queries.

The ItemStore has no atomic increment, so a counter changes by a conditional put (version
check) and retries on conflict. A document always updates the shard its id hashes to, so
concurrent indexing of different documents mostly touches different items; a reader sums
all shards (one batched read). A vocabulary item per (scope, term, shard) doubles as the
prefix dictionary (keys.vocab_partition). Counters can drift if the indexer dies during
its counter update; they only steer which postings are read (README.md).
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence

from domain.errors import ConflictError
from domain.ports import (
    MAX_WRITE_ITEMS,
    Absent,
    Delete,
    Item,
    ItemStore,
    Key,
    Put,
    VersionIs,
    WriteOp,
)
from domain.retries import pause_before_retry
from domain.search import keys
from domain.search.bm25 import Collection

logger = logging.getLogger(__name__)
_ATTEMPTS = 20
# Expansions of a prefix: read this many vocabulary items, keep this many terms (by df).
VOCAB_READ = 200
MAX_EXPANSIONS = 10


async def collection(store: ItemStore, kind: str) -> Collection:
    """Index-wide N and average field lengths: diagnostics only, never for scoring."""
    items = await store.get_many([keys.stats_key(kind, n) for n in range(keys.STATS_SHARDS)])
    docs = 0
    lengths: dict[str, int] = defaultdict(int)
    for item in items:
        if item is None:
            continue
        docs += int(item["docs"])
        for field, length in item["lengths"].items():
            lengths[field] += int(length)
    avg = {field: total / docs for field, total in lengths.items()} if docs > 0 else {}
    return Collection(docs=max(docs, 0), avg_lengths=avg)


async def document_frequencies(
    store: ItemStore, kind: str, scopes: Sequence[str], terms: Sequence[str]
) -> dict[str, int]:
    """Documents holding each term, summed over ``scopes`` (one batched read)."""
    if not terms:
        return {}
    wanted = [(term, s, n) for term in terms for s in scopes for n in range(keys.DF_SHARDS)]
    items = await store.get_many([keys.df_key(kind, term, n, s) for term, s, n in wanted])
    dfs = dict.fromkeys(terms, 0)
    for (term, _, _), item in zip(wanted, items, strict=True):
        dfs[term] += int(item["df"]) if item is not None else 0
    return {term: max(df, 0) for term, df in dfs.items()}


async def expand_prefix(
    store: ItemStore, kind: str, scopes: Sequence[str], prefix: str
) -> dict[str, int]:
    """Indexed terms starting with ``prefix`` (>= 2 characters) and their frequencies in
    ``scopes``: the MAX_EXPANSIONS most frequent among the first VOCAB_READ vocabulary
    items, in term order, of each scope's partition."""
    pages = await asyncio.gather(
        *(
            store.query(keys.vocab_partition(kind, prefix, s), prefix=prefix, limit=VOCAB_READ)
            for s in scopes
        )
    )
    dfs: dict[str, int] = defaultdict(int)
    for page in pages:
        for item in page.items:
            dfs[item["term"]] += int(item["df"])
    live = sorted(((df, term) for term, df in dfs.items() if df > 0), key=lambda p: (-p[0], p[1]))
    return {term: df for df, term in live[:MAX_EXPANSIONS]}


async def apply(
    store: ItemStore,
    kind: str,
    doc_id: str,
    *,
    df_delta: Mapping[tuple[str, str], int],
    docs_delta: int,
    length_delta: Mapping[str, int],
) -> None:
    """Move the document frequencies by ``df_delta`` ((scope, term) -> +1/-1) and the
    index-wide N and field lengths by the other deltas."""
    shard = keys.shard_of(doc_id, keys.DF_SHARDS)
    pairs = sorted(pair for pair, delta in df_delta.items() if delta)
    for start in range(0, len(pairs), MAX_WRITE_ITEMS - 1):
        chunk = pairs[start : start + MAX_WRITE_ITEMS - 1]
        await _apply_chunk(store, kind, shard, chunk, df_delta)
    if docs_delta or any(length_delta.values()):
        await _apply_stats(
            store, kind, keys.shard_of(doc_id, keys.STATS_SHARDS), docs_delta, length_delta
        )


async def _apply_chunk(
    store: ItemStore,
    kind: str,
    shard: int,
    pairs: list[tuple[str, str]],
    delta: Mapping[tuple[str, str], int],
) -> None:
    for attempt in range(_ATTEMPTS):
        await pause_before_retry(attempt)
        items = await store.get_many([keys.df_key(kind, t, shard, s) for s, t in pairs])
        ops = [
            _df_op(keys.df_key(kind, term, shard, scope), term, item, delta[scope, term])
            for (scope, term), item in zip(pairs, items, strict=True)
        ]
        kept = [op for op in ops if op is not None]
        if not kept:
            return
        try:
            await store.write(kept)
            return
        except ConflictError:
            continue
    logger.warning("search: gave up updating %d term counters; counts may drift", len(pairs))


def _df_op(key: Key, term: str, item: Item | None, delta: int) -> WriteOp | None:
    df = (int(item["df"]) if item else 0) + delta
    if item is None and df <= 0:
        return None  # a drifted counter: nothing to take away from
    if item is not None and df <= 0:
        return Delete(key, condition=VersionIs(item["version"]))
    version = item["version"] if item else 0
    new: Item = {
        "pk": key.pk,
        "sk": key.sk,
        "type": "SearchTerm",
        "term": term,
        "df": df,
        "version": version + 1,
    }
    return Put(new, condition=VersionIs(version) if item else Absent())


async def _apply_stats(
    store: ItemStore, kind: str, shard: int, docs_delta: int, length_delta: Mapping[str, int]
) -> None:
    key = keys.stats_key(kind, shard)
    for attempt in range(_ATTEMPTS):
        await pause_before_retry(attempt)
        [item] = await store.get_many([key])
        lengths = dict(item["lengths"]) if item else {}
        for field, delta in length_delta.items():
            lengths[field] = int(lengths.get(field, 0)) + delta
        version = item["version"] if item else 0
        new: Item = {
            "pk": key.pk,
            "sk": key.sk,
            "type": "SearchStats",
            "lengths": lengths,
            "docs": (int(item["docs"]) if item else 0) + docs_delta,
            "version": version + 1,
        }
        try:
            await store.write([Put(new, condition=VersionIs(version) if item else Absent())])
            return
        except ConflictError:
            continue
    logger.warning("search: gave up updating collection statistics; they may drift")
