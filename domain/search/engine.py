"""Query evaluation over impact-ordered postings, for one kind of document.

1. Document frequencies of the exact terms (one batched read of their vocabulary shards)
   and the expansions of the last, prefix term (one prefix query on its vocabulary
   partition), both in the viewer's access scopes only (counters.py): they count files
   the viewer may read and nothing else. A prefix nobody readable has ends the search
   with no posting read.
2. The rarest group (an exact term, or the prefix's expansions together) drives: its
   postings are read best-impact first, a page at a time.
3. Each page's documents are read in one batch (sources.py: permission and filter applied
   there), re-analysed from their *current* text and kept if every term matches.
   Postings are partitioned by access scope (keys.py): only the partitions of scopes the
   viewer may read are read (up to 3 per driver term; admins one), merged by impact.
   Read-your-writes: when the driver's postings in those partitions fit the read budget
   (its df says so, and the read confirms it), they are read from the *table*, which
   DynamoDB reads consistently, and put in impact order here: a document indexed by a
   mutation that has returned is found. Only a driver with more postings than the budget
   is read through gsi1 in impact order, which on DynamoDB may lag a write by a moment;
   such a query reads the best READ_BUDGET postings of a very common term anyway.
4. Reading stops at ACCEPT_TARGET accepted documents, READ_BUDGET postings, or the end of
   the driver's postings. All three, like the driver and the expansions, depend only on
   the documents the viewer may read and the filter, never on the page asked for — so
   every page of a query sees the same ranked list, and others' files change none of it.
5. The accepted documents are scored with statistics taken from them alone (bm25.py):
   nothing index-wide, which would count documents the viewer cannot read, reaches a score.

Items read per query are therefore bounded by a constant (README.md has the arithmetic),
and for a selective query by the rarest term's document frequency.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.ports import Item, ItemStore, Key
from domain.search import counters, eager, keys
from domain.search.analyzer import REMEMBERED_TEXT_CHARS
from domain.search.bm25 import (
    REFERENCE_DOCS,
    Collection,
    idf,
    reference_collection,
    term_frequency_part,
)
from domain.search.documents import (
    FIELD_WEIGHTS,
    KINDS,
    TYPICAL_LENGTHS,
    Document,
)
from domain.search.sources import Candidate, Source

ACCEPT_TARGET = 200
READ_BUDGET = 1000
POSTING_PAGE = 100
MIN_PREFIX_CHARS = 2
# Documents whose analysis (terms present, each term's tf part) is remembered; bounded.
REMEMBERED_DOCUMENTS = 4096
_COLLECTIONS = {kind: reference_collection(TYPICAL_LENGTHS[kind]) for kind in KINDS}


@dataclass(frozen=True, slots=True)
class QueryTerms:
    """A parsed query: the terms matched exactly and the last one, matched as a prefix."""

    exact: tuple[str, ...]
    prefix: str | None  # the last term, also matched as a prefix


# Scored and _Match are made per candidate (~20 each a search) and never changed after:
# not frozen, because a frozen dataclass's __init__ sets each field through
# object.__setattr__ (~3x the plain one: ~0.5 µs more each).
@dataclass(slots=True)
class Scored:
    """A candidate that matched, with its score and the terms it matched."""

    score: float
    candidate: Candidate
    matched: frozenset[str]


@dataclass(slots=True)
class _Stream:
    """Where the read of one posting partition has got to."""

    partition: str
    cursor: str | None = None
    done: bool = False


async def search_kind(store: ItemStore, source: Source, query: QueryTerms) -> list[Scored]:
    [(_, found)] = (await search_kinds(store, [source], query, also=[]))[1]
    return found


async def search_kinds(
    store: ItemStore, sources: Sequence[Source], query: QueryTerms, *, also: Sequence[Key]
) -> tuple[list[Item | None], list[tuple[Source, list[Scored]]]]:
    """``search_kind`` for each source, with the df counters of all of them and ``also``
    (keys the caller reads anyway) in one batched read beside the prefix expansions: one
    trip through the store's wrappers instead of one per kind and one for ``also``.
    Returns what was read for ``also`` and each source's hits."""
    exact, prefix = _terms(query)
    # df and the vocabulary are read from the viewer's access scopes only (counters.py), so
    # the driver and the expansions — which bound what is reached when the caps bind —
    # depend on readable documents alone. Counters are approximate (README.md): a zero df
    # still reads the postings (one query that finds none when the term is truly absent).
    wanted = [counters.df_keys(s.kind, s.scopes, exact) for s in sources]
    read, expanded = await eager.gather_two(
        store.get_many([*also, *(key for part in wanted for key in part)]),
        eager.gather(
            *(
                counters.expand_prefix(store, s.kind, s.scopes, prefix) if prefix else _nothing()
                for s in sources
            )
        ),
    )
    start = len(also)
    frequencies = []
    for source, part in zip(sources, wanted, strict=True):
        items = read[start : start + len(part)]
        frequencies.append(counters.summed_frequencies(source.scopes, exact, items))
        start += len(part)
    found = await eager.gather(
        *(
            _rank(store, source, exact, prefix, dfs, expansions)
            for source, dfs, expansions in zip(sources, frequencies, expanded, strict=True)
        )
    )
    return read[: len(also)], list(zip(sources, found, strict=True))


def _terms(query: QueryTerms) -> tuple[list[str], str | None]:
    exact = list(query.exact)
    short_prefix = query.prefix if query.prefix and len(query.prefix) < MIN_PREFIX_CHARS else None
    if short_prefix:
        exact.append(short_prefix)  # one character matches exactly: no type-ahead on "q"
    return exact, (query.prefix if query.prefix and not short_prefix else None)


async def _rank(
    store: ItemStore,
    source: Source,
    exact: list[str],
    prefix: str | None,
    dfs: dict[str, int],
    expansions: dict[str, int],
) -> list[Scored]:
    kind = source.kind
    if prefix is not None and not expansions:
        return []
    dfs = {term: max(df, 1) for term, df in dfs.items()}
    groups = [[term] for term in exact] + ([sorted(expansions)] if expansions else [])
    group_df = [sum(dfs.get(t, expansions.get(t, 0)) for t in group) for group in groups]
    driver = groups[group_df.index(min(group_df))]
    matcher = _Matcher(exact, prefix, frozenset(expansions))
    driver_df = group_df[groups.index(driver)]
    accepted = await _collect(store, source, kind, driver, matcher, driver_df)
    return _score(accepted)


async def _nothing() -> dict[str, int]:
    return {}


async def _collect(
    store: ItemStore,
    source: Source,
    kind: str,
    driver: list[str],
    matcher: "_Matcher",
    driver_df: int,
) -> list["_Match"]:
    # One stream per (driver term, scope the viewer may read): postings of files it cannot
    # read are in other partitions, so they never spend the read budget (README.md).
    streams = [
        _Stream(keys.posting_partition(kind, term, scope))
        for term in driver
        for scope in source.scopes
    ]
    if driver_df <= READ_BUDGET:
        postings = await _read_from_table(store, streams)
        if postings is not None:
            return await _accept_in_order(source, matcher, postings)
    return await _collect_from_index(store, source, streams, matcher)


async def _read_from_table(store: ItemStore, streams: list[_Stream]) -> list[Item] | None:
    """Every posting of the streams, consistently, best impact first; None when they hold
    more than READ_BUDGET (the counters are approximate), so the index must order them."""
    pages = await eager.gather(*(store.query(s.partition, limit=READ_BUDGET) for s in streams))
    if any(page.cursor is not None for page in pages):
        return None
    postings = [item for page in pages for item in page.items]
    if len(postings) > READ_BUDGET:
        return None
    postings.sort(key=lambda item: str(item["gsi1sk"]))
    return postings


async def _accept_in_order(
    source: Source, matcher: "_Matcher", postings: list[Item]
) -> list["_Match"]:
    ids = list(dict.fromkeys(str(item["doc_id"]) for item in postings))
    accepted: list[_Match] = []
    for start in range(0, len(ids), POSTING_PAGE):
        for candidate in await source.load(ids[start : start + POSTING_PAGE]):
            match = matcher.match(candidate)
            if match is not None:
                accepted.append(match)
        if len(accepted) >= ACCEPT_TARGET:
            break
    return accepted[:ACCEPT_TARGET]


async def _collect_from_index(
    store: ItemStore, source: Source, streams: list[_Stream], matcher: "_Matcher"
) -> list["_Match"]:
    page = max(10, POSTING_PAGE // len(streams))
    seen: set[str] = set()
    accepted: list[_Match] = []
    read = 0
    while len(accepted) < ACCEPT_TARGET and read < READ_BUDGET:
        active = [s for s in streams if not s.done]
        if not active:
            break
        pages = await eager.gather(
            *(store.query(s.partition, index="gsi1", after=s.cursor, limit=page) for s in active)
        )
        items = []
        for stream, result in zip(active, pages, strict=True):
            stream.cursor, stream.done = result.cursor, result.cursor is None
            read += len(result.items)
            items += result.items
        # Merged by impact (the gsi1 sort key: inverted impact, then doc id).
        items.sort(key=lambda item: str(item["gsi1sk"]))
        ids = list(dict.fromkeys(i["doc_id"] for i in items if i["doc_id"] not in seen))
        seen.update(ids)
        if ids:
            for candidate in await source.load(ids):
                match = matcher.match(candidate)
                if match is not None:
                    accepted.append(match)
    return accepted[:ACCEPT_TARGET]


class _Analysed:
    """What matching and scoring take from a document's text alone: its terms per field,
    every term it holds, and each term's BM25 tf part (bm25.term_frequency_part with the
    fixed reference lengths). A search re-reads mostly the same documents — the same files
    answer the same queries again and again — so this is remembered per text, as the
    analysis itself is (analyzer.py); a changed text is a new entry, never a stale one."""

    __slots__ = ("_collection", "_parts", "_weights", "field_terms", "present")

    def __init__(self, kind: str, field_terms: dict[str, Mapping[str, int]]) -> None:
        self.field_terms = field_terms
        present: set[str] = set()
        for counts in field_terms.values():
            present.update(counts)
        self.present = frozenset(present)
        self._weights: dict[str, float] = FIELD_WEIGHTS[kind]
        self._collection: Collection = _COLLECTIONS[kind]
        self._parts: dict[str, float] = {}

    def part(self, term: str) -> float:
        """The term's tf part: the same float term_frequency_part gives, computed once."""
        found = self._parts.get(term)
        if found is None:
            found = term_frequency_part(term, self.field_terms, self._weights, self._collection)
            self._parts[term] = found
        return found


def _analysed(document: Document) -> _Analysed:
    fields = document.fields
    if max(map(len, fields.values()), default=0) > REMEMBERED_TEXT_CHARS:
        return _Analysed(document.kind, document.field_terms())
    # A plain dict: lru_cache's wrapper cost more than the lookup (~20 lookups a search).
    key = (document.kind, *fields, *fields.values())
    found = _REMEMBERED.get(key)
    if found is None:
        if len(_REMEMBERED) >= REMEMBERED_DOCUMENTS:
            _REMEMBERED.clear()  # bounded; what is still in use is analysed again
        found = _REMEMBERED[key] = _Analysed(document.kind, document.field_terms())
    return found


_REMEMBERED: dict[tuple[str, ...], _Analysed] = {}


@dataclass(slots=True)
class _Match:
    """A candidate under the matcher: its analysed text and the query terms it holds."""

    candidate: Candidate
    analysed: _Analysed
    exact: tuple[str, ...]
    completions: frozenset[str]  # of the prefix term, present in the document


class _Matcher:
    """AND semantics over the document's *current* text. A prefix matches through the
    expansions read from the vocabulary only, whichever group drives: so below the caps
    the accepted set does not depend on the driver."""

    def __init__(self, exact: list[str], prefix: str | None, expansions: frozenset[str]) -> None:
        self._exact, self._prefix, self._expansions = tuple(exact), prefix, expansions
        self._required = frozenset(exact)

    def match(self, candidate: Candidate) -> _Match | None:
        analysed = _analysed(candidate.document)
        present = analysed.present
        if not self._required <= present:
            return None
        completions: frozenset[str] = frozenset()
        if self._prefix is not None:
            completions = present & self._expansions
            if not completions:
                return None
        return _Match(candidate, analysed, self._exact, completions)


def _score(accepted: list[_Match]) -> list[Scored]:
    """BM25 with statistics from the accepted documents only (bm25.py): N and the average
    field lengths are reference constants, df(term) = accepted documents holding the term.
    Every accepted document holds every exact term, so their df is len(accepted)."""
    if not accepted:
        return []
    # Every match holds the same exact terms (one matcher per query), so each is counted
    # len(accepted) times; a completion that is also an exact term counts on top, as before.
    df = dict.fromkeys(accepted[0].exact, len(accepted))
    for match in accepted:
        for term in match.completions:
            df[term] = df.get(term, 0) + 1
    # bm25.term_score's idf, once per term rather than once per term and document.
    docs = REFERENCE_DOCS
    idfs = {term: idf(max(docs, n, 1), n) for term, n in df.items()}
    exact = accepted[0].exact
    exact_set = frozenset(exact)
    scored: list[Scored] = []
    for match in accepted:
        analysed = match.analysed
        total: float = 0  # what sum() started from: the same floats
        for term in exact:
            total += idfs[term] * analysed.part(term)
        completions = match.completions
        if completions:
            total += max(idfs[t] * analysed.part(t) for t in completions)
        matched = exact_set | completions if completions else exact_set
        scored.append(Scored(round(total, 6), match.candidate, matched))
    return scored
