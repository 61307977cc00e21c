"""Write validation and condition semantics shared by every ItemStore adapter, so that
"absent", "exists" and "version equals N" mean exactly the same everywhere."""

from collections.abc import Sequence

from domain.errors import InvalidInputError
from domain.ports import (
    INDEXES,
    MAX_QUERY_LIMIT,
    MAX_WRITE_ITEMS,
    Absent,
    Condition,
    Exists,
    Item,
    Put,
    VersionIs,
    WriteOp,
    index_keys,
)


def op_key(op: WriteOp) -> tuple[str, str]:
    if isinstance(op, Put):
        return op.item["pk"], op.item["sk"]
    return op.key.pk, op.key.sk


def check_write_batch(ops: Sequence[WriteOp]) -> None:
    """Refuse a batch no adapter could apply atomically, before touching anything."""
    if not ops:
        raise InvalidInputError("A write needs at least one operation")
    if len(ops) > MAX_WRITE_ITEMS:
        raise InvalidInputError(
            f"A write holds at most {MAX_WRITE_ITEMS} operations; splitting it would not be atomic"
        )
    seen: set[tuple[str, str]] = set()
    for op in ops:
        if isinstance(op, Put):
            _check_item(op.item)
        key = op_key(op)
        if key in seen:
            raise InvalidInputError("A write may touch each item only once")
        seen.add(key)


def _check_item(item: Item) -> None:
    if not isinstance(item.get("pk"), str) or not isinstance(item.get("sk"), str):
        raise InvalidInputError("An item needs string 'pk' and 'sk'")
    if not item["pk"] or not item["sk"]:
        raise InvalidInputError("An item's 'pk' and 'sk' must not be empty")
    for index in INDEXES:
        for attr in index_keys(index):
            if attr in item and (not isinstance(item[attr], str) or not item[attr]):
                raise InvalidInputError(f"Index key {attr!r} must be a non-empty string")


def condition_holds(condition: Condition, current: Item | None) -> bool:
    if isinstance(condition, Absent):
        return current is None
    if isinstance(condition, Exists):
        return current is not None
    if isinstance(condition, VersionIs):
        return current is not None and current.get("version") == condition.version
    raise TypeError(f"unknown condition {condition!r}")  # pragma: no cover - exhaustive


def validate_query(*, index: str | None, limit: int) -> None:
    if index is not None and index not in INDEXES:
        raise InvalidInputError(f"Unknown index {index!r}")
    if not 1 <= limit <= MAX_QUERY_LIMIT:
        raise InvalidInputError(f"limit must be between 1 and {MAX_QUERY_LIMIT}")
