"""The search index's key layout in the ItemStore (the table is in README.md); the only
code that knows these formats. ``k`` is the document kind: F (file) or U (user).

Terms are analyzer output (letters and digits only), so "#" never occurs inside one.
"""

import hashlib

from domain.ports import Key

STATS_SHARDS = 8  # spreads the per-kind counters so concurrent indexing rarely collides
DF_SHARDS = 4
IMPACT_SCALE = 1000
IMPACT_MAX = 999_999


def posting_partition(kind: str, term: str) -> str:
    return f"SRCH#P#{kind}#{term}"


def posting_key(kind: str, term: str, doc_id: str) -> Key:
    return Key(posting_partition(kind, term), doc_id)


def impact_sort_key(impact: float, doc_id: str) -> str:
    """Zero-padded *inverted* impact: ascending sort key order is best posting first."""
    inverted = IMPACT_MAX - min(IMPACT_MAX, max(0, round(impact * IMPACT_SCALE)))
    return f"{inverted:06d}#{doc_id}"


def vocab_partition(kind: str, term: str) -> str:
    """Terms grouped by their first two characters: one prefix query expands ``quar`` to
    every indexed term starting with it, and returns their document frequencies too."""
    return f"SRCH#V#{kind}#{term[:2]}"


def df_key(kind: str, term: str, shard: int) -> Key:
    return Key(vocab_partition(kind, term), f"{term}#{shard}")


def stats_key(kind: str, shard: int) -> Key:
    return Key(f"SRCH#S#{kind}", f"{shard:02d}")


def state_key(kind: str, doc_id: str) -> Key:
    return Key(f"SRCH#D#{kind}#{doc_id}", "STATE")


def shard_of(doc_id: str, shards: int) -> int:
    return hashlib.blake2b(doc_id.encode("utf-8"), digest_size=2).digest()[0] % shards
