"""Query evaluation over impact-ordered postings, for one kind of document.

1. Document frequencies of the exact terms (one batched read of their vocabulary shards)
   and the expansions of the last, prefix term (one prefix query on its vocabulary
   partition). A term nobody has ends the search with no posting read.
2. The rarest group (an exact term, or the prefix's expansions together) drives: its
   postings are read best-impact first, a page at a time.
3. Each page's documents are read in one batch (sources.py: permission and filter applied
   there), re-analysed from their *current* text, kept if every term matches, and scored.
4. Reading stops at ACCEPT_TARGET accepted documents, READ_BUDGET postings, or the end of
   the driver's postings. All three depend only on the index, the viewer and the filter,
   never on the page asked for — so every page of a query sees the same ranked list.

Items read per query are therefore bounded by a constant (README.md has the arithmetic),
and for a selective query by the rarest term's document frequency.
"""

import asyncio
from collections import Counter
from dataclasses import dataclass

from domain.ports import ItemStore
from domain.search import counters, keys
from domain.search.bm25 import Collection, term_score
from domain.search.documents import FIELD_WEIGHTS
from domain.search.sources import Candidate, Source

ACCEPT_TARGET = 200
READ_BUDGET = 1000
POSTING_PAGE = 100
MIN_PREFIX_CHARS = 2


@dataclass(frozen=True, slots=True)
class QueryTerms:
    exact: tuple[str, ...]
    prefix: str | None  # the last term, also matched as a prefix


@dataclass(frozen=True, slots=True)
class Scored:
    score: float
    candidate: Candidate
    matched: frozenset[str]


@dataclass(slots=True)
class _Stream:
    partition: str
    cursor: str | None = None
    done: bool = False


async def search_kind(store: ItemStore, source: Source, query: QueryTerms) -> list[Scored]:
    kind = source.kind
    exact = list(query.exact)
    short_prefix = query.prefix if query.prefix and len(query.prefix) < MIN_PREFIX_CHARS else None
    if short_prefix:
        exact.append(short_prefix)  # one character matches exactly: no type-ahead on "q"
    # Counters are approximate (README.md): a zero df still reads the postings (one query
    # that finds none when the term is truly absent) rather than miss a real match.
    dfs = await counters.document_frequencies(store, kind, exact) if exact else {}
    dfs = {term: max(df, 1) for term, df in dfs.items()}
    expansions: dict[str, int] = {}
    if query.prefix and not short_prefix:
        expansions = await counters.expand_prefix(store, kind, query.prefix)
        if not expansions:
            return []
    groups = [[term] for term in exact] + ([sorted(expansions)] if expansions else [])
    group_df = [sum(dfs.get(t, expansions.get(t, 0)) for t in group) for group in groups]
    driver = groups[group_df.index(min(group_df))]
    all_dfs = {**expansions, **dfs}
    collection = await counters.collection(store, kind)
    scorer = _Scorer(kind, exact, None if short_prefix else query.prefix, all_dfs, collection)
    return await _collect(store, source, kind, driver, scorer)


async def _collect(
    store: ItemStore, source: Source, kind: str, driver: list[str], scorer: "_Scorer"
) -> list[Scored]:
    streams = [_Stream(keys.posting_partition(kind, term)) for term in driver]
    page = max(10, POSTING_PAGE // len(streams))
    seen: set[str] = set()
    accepted: list[Scored] = []
    read = 0
    while len(accepted) < ACCEPT_TARGET and read < READ_BUDGET:
        active = [s for s in streams if not s.done]
        if not active:
            break
        pages = await asyncio.gather(
            *(store.query(s.partition, index="gsi1", after=s.cursor, limit=page) for s in active)
        )
        ids: list[str] = []
        for stream, result in zip(active, pages, strict=True):
            stream.cursor, stream.done = result.cursor, result.cursor is None
            read += len(result.items)
            ids += [item["doc_id"] for item in result.items if item["doc_id"] not in seen]
        ids = list(dict.fromkeys(ids))
        seen.update(ids)
        if ids:
            for candidate in await source.load(ids):
                scored = scorer.score(candidate)
                if scored is not None:
                    accepted.append(scored)
    return accepted[:ACCEPT_TARGET]


class _Scorer:
    def __init__(
        self,
        kind: str,
        exact: list[str],
        prefix: str | None,
        dfs: dict[str, int],
        collection: Collection,
    ) -> None:
        self._weights = FIELD_WEIGHTS[kind]
        self._exact, self._prefix, self._dfs, self._collection = exact, prefix, dfs, collection

    def score(self, candidate: Candidate) -> Scored | None:
        """None unless every term matches the document's current text."""
        field_terms = candidate.document.field_terms()
        present: Counter[str] = Counter()
        for counts in field_terms.values():
            present.update(counts)
        if any(term not in present for term in self._exact):
            return None
        total = sum(self._term(term, field_terms) for term in self._exact)
        matched = set(self._exact)
        if self._prefix is not None:
            completions = [t for t in present if t.startswith(self._prefix)]
            if not completions:
                return None
            total += max(self._term(term, field_terms) for term in completions)
            matched.update(completions)
        return Scored(round(total, 6), candidate, frozenset(matched))

    def _term(self, term: str, field_terms: dict[str, Counter[str]]) -> float:
        # A completion beyond the expansions read from the vocabulary counts as rare (df 1).
        df = self._dfs.get(term, 1)
        return term_score(term, df, field_terms, self._weights, self._collection)
