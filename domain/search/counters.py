"""Statistics kept as sharded counters in the ItemStore.

Document frequencies and the vocabulary are counted *per access scope* (keys.py): a file
counts once in each scope its postings are written to, so a viewer's query sums the
counters of its own scopes (PUBLIC + OWNER#V + SHARED#V, or ALL for admins; users are
unscoped) and reads nothing that counts a file it cannot read. A viewer's scopes hold
disjoint sets of files (documents.file_scopes), so the sum counts each readable file once.
Queries use them only to choose the driving term group and the prefix expansions, never in
a score (bm25.py). N and the field lengths (``collection``) are index-wide, maintained but
not read by queries.

Every counter changes by the store's atomic Add: concurrent indexing never loses an update
and never retries. A document always updates the shard its id hashes to; a reader sums all
shards (one batched read). Counters that fall to 0 are deleted by a version-conditioned
clean-up that runs once and gives way to any concurrent change. A vocabulary item per
(scope, term, shard) doubles as the prefix dictionary (keys.vocab_partition). Counters can
drift if the indexer dies during its counter update; they only steer which postings are
read (README.md).
"""

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from functools import lru_cache

from domain.errors import ConflictError
from domain.ports import MAX_WRITE_ITEMS, Add, Delete, Item, ItemStore, Key, VersionIs
from domain.search import eager, keys
from domain.search.bm25 import Collection

logger = logging.getLogger(__name__)
# Stats items hold one attribute per field: "length_<field>".
LENGTH_PREFIX = "length_"
# Expansions of a prefix: read this many vocabulary items, keep this many terms (by df).
VOCAB_READ = 200
MAX_EXPANSIONS = 10
_SHARDS = range(keys.DF_SHARDS)


async def collection(store: ItemStore, kind: str) -> Collection:
    """Index-wide N and average field lengths: diagnostics only, never for scoring."""
    items = await store.get_many([keys.stats_key(kind, n) for n in range(keys.STATS_SHARDS)])
    docs = 0
    lengths: dict[str, int] = defaultdict(int)
    for item in items:
        if item is None:
            continue
        docs += int(item.get("docs", 0))
        for name, length in item.items():
            if name.startswith(LENGTH_PREFIX):
                lengths[name.removeprefix(LENGTH_PREFIX)] += int(length)
    avg = {field: total / docs for field, total in lengths.items()} if docs > 0 else {}
    return Collection(docs=max(docs, 0), avg_lengths=avg)


async def document_frequencies(
    store: ItemStore, kind: str, scopes: Sequence[str], terms: Sequence[str]
) -> dict[str, int]:
    """Documents holding each term, summed over ``scopes`` (one batched read)."""
    if not terms:
        return {}
    items = await store.get_many(df_keys(kind, scopes, terms))
    return summed_frequencies(scopes, terms, items)


def df_keys(kind: str, scopes: Sequence[str], terms: Sequence[str]) -> tuple[Key, ...]:
    """The counters ``document_frequencies`` reads, for a caller that reads them in a batch
    with other keys (summed_frequencies then reads the answer)."""
    return _df_keys(kind, tuple(scopes), tuple(terms))


# 4 keys per scope and term, the same for every search of a viewer's query: made once.
@lru_cache(maxsize=1024)
def _df_keys(kind: str, scopes: tuple[str, ...], terms: tuple[str, ...]) -> tuple[Key, ...]:
    return tuple(keys.df_key(kind, term, n, s) for term in terms for s in scopes for n in _SHARDS)


def summed_frequencies(
    scopes: Sequence[str], terms: Sequence[str], items: Sequence[Item | None]
) -> dict[str, int]:
    """``items``: what was read for ``df_keys(kind, scopes, terms)``, in that order."""
    per_term = len(scopes) * keys.DF_SHARDS
    dfs = {}
    for index, term in enumerate(terms):
        counted = items[index * per_term : (index + 1) * per_term]
        dfs[term] = max(sum(int(item["df"]) for item in counted if item is not None), 0)
    return dfs


async def expand_prefix(
    store: ItemStore, kind: str, scopes: Sequence[str], prefix: str
) -> dict[str, int]:
    """Indexed terms starting with ``prefix`` (>= 2 characters) and their frequencies in
    ``scopes``: the MAX_EXPANSIONS most frequent among the first VOCAB_READ vocabulary
    items, in term order, of each scope's partition."""
    pages = await eager.gather(
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
    for start in range(0, len(pairs), MAX_WRITE_ITEMS):
        chunk = pairs[start : start + MAX_WRITE_ITEMS]
        await _apply_chunk(store, kind, shard, chunk, df_delta)
    lengths = {field: delta for field, delta in length_delta.items() if delta}
    if docs_delta or lengths:
        key = keys.stats_key(kind, keys.shard_of(doc_id, keys.STATS_SHARDS))
        deltas = {"docs": docs_delta, **{LENGTH_PREFIX + field: d for field, d in lengths.items()}}
        await store.write([Add(key, deltas, defaults={"type": "SearchStats"})])


async def _apply_chunk(
    store: ItemStore,
    kind: str,
    shard: int,
    pairs: list[tuple[str, str]],
    delta: Mapping[tuple[str, str], int],
) -> None:
    # The store adds (no read, no retry); "version" moves with every addition so that the
    # clean-up below deletes a counter only if nothing moved it since it was read at 0.
    await store.write(
        [
            Add(
                keys.df_key(kind, term, shard, scope),
                {"df": delta[scope, term], "version": 1},
                defaults={"type": "SearchTerm", "term": term},
            )
            for scope, term in pairs
        ]
    )
    fell = [pair for pair in pairs if delta[pair] < 0]
    if fell:
        await _drop_empty(store, [keys.df_key(kind, t, shard, s) for s, t in fell])


async def _drop_empty(store: ItemStore, counter_keys: list[Key]) -> None:
    """Delete counters at 0 (or below: drifted), so the vocabulary read for prefixes holds
    live terms. One attempt: a counter moved meanwhile is live, or the next decrement that
    takes it to 0 deletes it."""
    items = await store.get_many(counter_keys)
    for key, item in zip(counter_keys, items, strict=True):
        if item is None or int(item.get("df", 0)) > 0:
            continue
        try:
            await store.write([Delete(key, condition=VersionIs(int(item["version"])))])
        except ConflictError:
            logger.debug("search: counter %s moved before its clean-up; kept", key)
