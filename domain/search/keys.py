"""The search index's key layout in the ItemStore (the table is in README.md); the only
code that knows these formats. ``k`` is the document kind: F (file) or U (user).

Terms are analyzer output (letters and digits only, lower case), so "#" never occurs inside
one and a term never equals an (upper-case) scope name.

File postings are partitioned by *access scope* (README.md "Access scopes"): a viewer's
query reads only partitions of scopes it may read, so postings of files it cannot read
never spend its read budget. Users are readable by every signed-in user: one scope,
``UNSCOPED`` (the partition has no scope part; this is also the pre-scope file layout).
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
