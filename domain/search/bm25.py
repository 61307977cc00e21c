"""BM25 (k1 1.2, b 0.75) summed over weighted fields (a simple BM25F variant: each field
has its own length normalisation; the field weight scales its saturated term frequency).

Privacy: a score may depend only on documents the viewer may read, so
no index-wide statistic reaches it. N and the average field lengths are fixed reference
constants (REFERENCE_DOCS here, documents.TYPICAL_LENGTHS); document frequencies are
counted by the engine over the documents it accepted for this query (readable, passing
the filter, matching every term) — README.md "Scoring" has the formula and its limits.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

K1 = 1.2
B = 0.75
# N in the idf: a constant above the engine's accept cap (200), so df <= N always.
REFERENCE_DOCS = 1000


@dataclass(frozen=True, slots=True)
class Collection:
    """The collection statistics BM25 scores against: document count and average field lengths."""

    docs: int
    avg_lengths: dict[str, float]


def reference_collection(avg_lengths: dict[str, float]) -> Collection:
    """The fixed statistics every score and every posting impact uses."""
    return Collection(docs=REFERENCE_DOCS, avg_lengths=dict(avg_lengths))


def idf(docs: int, df: int) -> float:
    df = max(0, min(df, docs))
    return math.log(1 + (docs - df + 0.5) / (df + 0.5))


def term_frequency_part(
    term: str,
    field_terms: dict[str, Mapping[str, int]],
    weights: dict[str, float],
    collection: Collection,
) -> float:
    """The per-document part of one term's score: what postings are ordered by."""
    total = 0.0
    for field, counts in field_terms.items():
        tf = counts.get(term, 0)
        if not tf:
            continue
        length = sum(counts.values())
        avg = collection.avg_lengths.get(field) or 1.0
        norm = tf + K1 * (1 - B + B * length / avg)
        total += weights[field] * tf * (K1 + 1) / norm
    return total


def term_score(
    term: str,
    df: int,
    field_terms: dict[str, Mapping[str, int]],
    weights: dict[str, float],
    collection: Collection,
) -> float:
    docs = max(collection.docs, df, 1)
    return idf(docs, df) * term_frequency_part(term, field_terms, weights, collection)
