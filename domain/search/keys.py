"""The search index's key layout in the ItemStore (the table is in README.md); the only
code that knows these formats. ``k`` is the document kind: F (file) or U (user).

Terms are analyzer output (letters and digits only, lower case), so "#" never occurs inside
one and a term never equals an (upper-case) scope name.

File postings are partitioned by *access scope* (README.md "Access scopes"): a viewer's
query reads only partitions of scopes it may read, so postings of files it cannot read
never spend its read budget. The vocabulary and document-frequency counters are
partitioned the same way, so what a query reads to choose its driver and its prefix
expansions counts only files the viewer may read. Users are readable by every signed-in
user: one scope, ``UNSCOPED`` (the partition has no scope part; this is also the
pre-scope file layout of postings and the index-wide file counters before scoped ones).
"""

import hashlib

from domain.ports import Key

STATS_SHARDS = 8  # spreads the per-kind counters so concurrent indexing rarely collides
DF_SHARDS = 4
IMPACT_SCALE = 1000
IMPACT_MAX = 999_999


UNSCOPED = ""
PUBLIC = "PUBLIC"
ALL = "ALL"  # every file: what admins read


def owner_scope(user_id: str) -> str:
    return f"OWNER#{user_id}"


def shared_scope(user_id: str) -> str:
    return f"SHARED#{user_id}"


def posting_partition(kind: str, term: str, scope: str = UNSCOPED) -> str:
    return f"SRCH#P#{kind}#{scope}#{term}" if scope else f"SRCH#P#{kind}#{term}"


def posting_key(kind: str, term: str, doc_id: str, scope: str = UNSCOPED) -> Key:
    return Key(posting_partition(kind, term, scope), doc_id)


def impact_sort_key(impact: float, doc_id: str) -> str:
    """Zero-padded *inverted* impact: ascending sort key order is best posting first."""
    inverted = IMPACT_MAX - min(IMPACT_MAX, max(0, round(impact * IMPACT_SCALE)))
    return f"{inverted:06d}#{doc_id}"


def vocab_partition(kind: str, term: str, scope: str = UNSCOPED) -> str:
    """Terms grouped by access scope and first two characters: one prefix query expands
    ``quar`` to every term starting with it in files of that scope, with their document
    frequencies counted over those files only (a viewer sums its scopes)."""
    if scope:
        return f"SRCH#V#{kind}#{scope}#{term[:2]}"
    return f"SRCH#V#{kind}#{term[:2]}"


def df_key(kind: str, term: str, shard: int, scope: str = UNSCOPED) -> Key:
    return Key(vocab_partition(kind, term, scope), f"{term}#{shard}")


def stats_key(kind: str, shard: int) -> Key:
    return Key(f"SRCH#S#{kind}", f"{shard:02d}")


def state_key(kind: str, doc_id: str) -> Key:
    return Key(f"SRCH#D#{kind}#{doc_id}", "STATE")


def rebuilding_key() -> Key:
    """Present while the index is rebuilt after a restore (reindex.py)."""
    return Key("SRCH#REBUILDING", "STATE")


def shard_of(doc_id: str, shards: int) -> int:
    return hashlib.blake2b(doc_id.encode("utf-8"), digest_size=2).digest()[0] % shards
