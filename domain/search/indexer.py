"""Keeps the index in step with the metadata, one document at a time.

Metadata changes stay one atomic write in the use cases; this runs right after it, before
the mutation returns (read-your-writes). A document's index spans many items (a posting per
term, > 100 for a long description), more than one atomic write may hold, so the work is
ordered to be safe at every step and to converge under concurrency and crashes:

1. intent: the document's state item records every term that may get a posting
   (old + new), conditioned on the state's version — a concurrent indexer of the same
   document conflicts here and starts over from the newer metadata;
2. postings for the new terms are put, one copy per access scope of the document (keys.py;
   the state records the scopes written, so removal is exact), and postings of terms or
   scopes no longer present are deleted, in writes of at most 100 items;
3. commit: the state item becomes {terms: new, hash}, conditioned on the intent's version;
4. the counters move by the committed difference: document frequencies per (access scope,
   term), so they follow the postings when a file is shared, unshared or made public;
5. the metadata is read again: if it changed meanwhile, go round again.

Queries never trust a posting alone: they re-read each candidate's metadata and match and
score its current text, so a stale posting can only cost a read, never show a wrong hit. A
crash before (2) finishes can leave a current document without some postings (a missed
hit, never a wrong one) and a state item with pending terms; ``demobackend reindex`` finds
and repairs both, and deletes the index of documents that no longer exist.
"""

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.errors import ConflictError
from domain.ports import MAX_WRITE_ITEMS, Absent, Delete, Item, ItemStore, Put, VersionIs, WriteOp
from domain.search import counters, keys
from domain.search.bm25 import reference_collection, term_frequency_part
from domain.search.documents import FIELD_WEIGHTS, TYPICAL_LENGTHS, Document

logger = logging.getLogger(__name__)
_ATTEMPTS = 8

LoadDocument = Callable[[], Awaitable[Document | None]]


@dataclass(frozen=True, slots=True)
class _State:
    """What the index last recorded of one document: its version, text hash, terms and scopes."""

    version: int
    hash: str | None
    terms: frozenset[str]
    pending: frozenset[str]
    lengths: dict[str, int]
    # Access scopes (keys.py) the postings of ``terms`` are written to; pending as terms.
    scopes: frozenset[str] = frozenset()
    pending_scopes: frozenset[str] = frozenset()
    # Scopes the df counters count the committed terms in (``scopes`` once settled).
    counted_scopes: frozenset[str] = frozenset()
    # Set between the commit and the counter update: what the counters still count.
    recount: dict[str, Any] | None = None

    @classmethod
    def of(cls, item: Item | None) -> "_State":
        if item is None:
            return cls(0, None, frozenset(), frozenset(), {})
        return cls(
            item["version"],
            item.get("hash"),
            frozenset(item["terms"]),
            frozenset(item.get("pending") or ()),
            dict(item.get("lengths") or {}),
            # No "scopes": written before access scopes, its postings are unscoped.
            frozenset(item.get("scopes", [keys.UNSCOPED])),
            frozenset(item.get("pending_scopes") or ()),
            # No "counted_scopes": written before scoped counters, df counted index-wide.
            frozenset(item.get("counted_scopes", [keys.UNSCOPED])),
            item.get("recount"),
        )


class SearchIndexer:
    def __init__(self, store: ItemStore) -> None:
        self._store = store

    async def sync(self, kind: str, doc_id: str, load: LoadDocument) -> bool:
        """Bring the index of one document in line with ``load()`` (None: not searchable).
        True when it is; False after repeated interference (logged; reindex repairs)."""
        for _ in range(_ATTEMPTS):
            doc = await load()
            [item] = await self._store.get_many([keys.state_key(kind, doc_id)])
            state = _State.of(item)
            new_hash, new_scopes = signature(doc)
            try:
                if state.recount is not None:
                    await self._count(kind, doc_id, state)
                    continue
                settled = (
                    not state.pending
                    and not state.pending_scopes
                    and state.counted_scopes == state.scopes
                )
                if (state.hash, state.scopes) == (new_hash, new_scopes) and settled:
                    return True
                await self._apply(kind, doc_id, doc, state)
            except ConflictError:
                continue
            if signature(await load()) == (new_hash, new_scopes):
                return True
        logger.warning("search: index of %s %s still moving; reindex repairs it", kind, doc_id)
        return False

    async def _apply(self, kind: str, doc_id: str, doc: Document | None, state: _State) -> None:
        field_terms = doc.field_terms() if doc else {}
        new_terms = frozenset(term for counts in field_terms.values() for term in counts)
        touched = state.terms | state.pending | new_terms
        new_scopes = frozenset(doc.scopes) if doc else frozenset()
        touched_scopes = state.scopes | state.pending_scopes | new_scopes
        intent = state_item(
            kind, doc_id, state.version + 1, state.hash, state.terms, touched, state.lengths
        )
        intent |= {
            "scopes": sorted(state.scopes),
            "pending_scopes": sorted(touched_scopes),
            "counted_scopes": sorted(state.counted_scopes),
        }
        await self._store.write([Put(intent, condition=_at(state.version))])
        ops: list[WriteOp] = [Put(p) for p in postings(doc, field_terms)] if doc else []
        ops += [
            Delete(keys.posting_key(kind, term, doc_id, scope))
            for scope in sorted(touched_scopes)
            for term in sorted(touched)
            if scope not in new_scopes or term not in new_terms
        ]
        await self._write_in_batches(ops)
        lengths = {field: sum(counts.values()) for field, counts in field_terms.items()}
        done = state_item(
            kind,
            doc_id,
            state.version + 2,
            doc.content_hash if doc else None,
            new_terms,
            frozenset(),
            lengths,
        )
        done["scopes"] = sorted(new_scopes)
        done["counted_scopes"] = sorted(state.counted_scopes)
        # The commit remembers what the counters still count, so a crash before they move
        # is finished by the next sync (or reindex) instead of leaving them behind.
        done["recount"] = {
            "terms": sorted(state.terms),
            "scopes": sorted(state.counted_scopes),
            "lengths": state.lengths,
            "counted": state.hash is not None,
        }
        await self._store.write([Put(done, condition=VersionIs(state.version + 1))])
        await self._count(kind, doc_id, _State.of(done))

    async def _count(self, kind: str, doc_id: str, state: _State) -> None:
        """Move the counters from ``state.recount`` to ``state``, then clear the recount.
        Document frequencies are counted per (access scope, term), so a share, unshare or
        visibility change moves them with the postings."""
        recount = state.recount or {}
        old_lengths: dict[str, int] = dict(recount.get("lengths") or {})
        was_counted, is_counted = bool(recount.get("counted")), state.hash is not None
        # A recount without "scopes" was written before scoped counters: index-wide ones.
        old_scopes = recount.get("scopes", [keys.UNSCOPED])
        old = _pairs(old_scopes, recount.get("terms") or ()) if was_counted else frozenset()
        new = _pairs(state.scopes, state.terms) if is_counted else frozenset()
        df_delta = {pair: 1 for pair in new - old}
        df_delta |= {pair: -1 for pair in old - new}
        fields = set(state.lengths) | set(old_lengths)
        await counters.apply(
            self._store,
            kind,
            doc_id,
            df_delta=df_delta,
            docs_delta=int(is_counted) - int(was_counted),
            length_delta={f: state.lengths.get(f, 0) - int(old_lengths.get(f, 0)) for f in fields},
        )
        key = keys.state_key(kind, doc_id)
        if not is_counted:
            await self._store.write([Delete(key, condition=VersionIs(state.version))])
            return
        settled = state_item(
            kind, doc_id, state.version + 1, state.hash, state.terms, frozenset(), state.lengths
        )
        settled["scopes"] = sorted(state.scopes)
        settled["counted_scopes"] = sorted(state.scopes)
        await self._store.write([Put(settled, condition=VersionIs(state.version))])

    async def _write_in_batches(self, ops: Sequence[WriteOp]) -> None:
        for start in range(0, len(ops), MAX_WRITE_ITEMS):
            await self._store.write(ops[start : start + MAX_WRITE_ITEMS])


def postings(doc: Document, field_terms: dict[str, Mapping[str, int]]) -> list[Item]:
    """Every posting of ``doc`` (its ``field_terms()``): one per term and access scope."""
    # Fixed reference lengths: a posting's impact (its read order) depends on this
    # document alone, not on what else (readable or not) is in the index.
    stats = reference_collection(TYPICAL_LENGTHS[doc.kind])
    weights = FIELD_WEIGHTS[doc.kind]
    scopes = sorted(doc.scopes)
    items: list[Item] = []
    for term in sorted({term for counts in field_terms.values() for term in counts}):
        impact = term_frequency_part(term, field_terms, weights, stats)
        # One copy per access scope: a file shared with k users has k + 2.
        items += [posting_item(doc.kind, term, doc.id, impact, s) for s in scopes]
    return items


def _at(version: int) -> Absent | VersionIs:
    return Absent() if version == 0 else VersionIs(version)


def _pairs(scopes: Iterable[str], terms: Iterable[str]) -> frozenset[tuple[str, str]]:
    return frozenset((scope, term) for scope in scopes for term in terms)


def signature(doc: Document | None) -> tuple[str | None, frozenset[str]]:
    """What the index holds of a document: its text (hash) and its access scopes."""
    return (doc.content_hash, frozenset(doc.scopes)) if doc else (None, frozenset())


def posting_item(kind: str, term: str, doc_id: str, impact: float, scope: str) -> Item:
    key = keys.posting_key(kind, term, doc_id, scope)
    return {
        "pk": key.pk,
        "sk": key.sk,
        "gsi1pk": key.pk,
        "gsi1sk": keys.impact_sort_key(impact, doc_id),
        "type": "SearchPosting",
        "kind": kind,
        "doc_id": doc_id,
    }


def state_item(
    kind: str,
    doc_id: str,
    version: int,
    content_hash: str | None,
    terms: frozenset[str],
    pending: frozenset[str],
    lengths: dict[str, int],
) -> Item:
    key = keys.state_key(kind, doc_id)
    return {
        "pk": key.pk,
        "sk": key.sk,
        "type": "SearchState",
        "kind": kind,
        "doc_id": doc_id,
        "hash": content_hash,
        "terms": sorted(terms),
        "pending": sorted(pending),
        "lengths": lengths,
        "version": version,
        "scopes": [],
        "pending_scopes": [],
        "counted_scopes": [],
    }
