"""Write validation and condition semantics shared by every ItemStore adapter, so that
"absent", "exists" and "version equals N" mean exactly the same everywhere."""

import json
from collections.abc import Sequence
from typing import Any

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

# DynamoDB numbers keep 38 significant digits and boto3 refuses anything it would round,
# so the fake and SQLite refuse the same ints rather than accept what AWS cannot store.
_INT_LIMIT = 10**38
# DynamoDB's nesting limit; it also keeps recursive JSON encoders far from Python's limit.
_MAX_DEPTH = 32
MAX_ITEM_BYTES = 400 * 1024


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


def is_storable_text(value: str) -> bool:
    """Lone surrogates have no UTF-8 form, so neither SQLite nor DynamoDB can hold them."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_item(item: Item) -> None:
    if not isinstance(item.get("pk"), str) or not isinstance(item.get("sk"), str):
        raise InvalidInputError("An item needs string 'pk' and 'sk'")
    if not item["pk"] or not item["sk"]:
        raise InvalidInputError("An item's 'pk' and 'sk' must not be empty")
    for index in INDEXES:
        for attr in index_keys(index):
            if attr in item and (not isinstance(item[attr], str) or not item[attr]):
                raise InvalidInputError(f"Index key {attr!r} must be a non-empty string")
    _check_value(item, depth=0)
    # DynamoDB's item limit, measured roughly (names plus JSON values); refusing here keeps
    # SQLite and the fake from accepting what the production table cannot hold.
    if len(json.dumps(item, separators=(",", ":")).encode()) > MAX_ITEM_BYTES:
        raise InvalidInputError(f"An item may hold at most {MAX_ITEM_BYTES} bytes")


def _check_value(value: Any, *, depth: int) -> None:
    if value is None or isinstance(value, bool):  # bool before int: it is an int subclass
        return
    if isinstance(value, int):
        if not -_INT_LIMIT < value < _INT_LIMIT:
            raise InvalidInputError("Integers must have at most 38 digits")
        return
    if isinstance(value, str):
        if not is_storable_text(value):
            raise InvalidInputError("Text must be valid Unicode")
        return
    if depth >= _MAX_DEPTH:
        raise InvalidInputError(f"Items nest at most {_MAX_DEPTH} levels deep")
    if isinstance(value, list):
        for element in value:
            _check_value(element, depth=depth + 1)
        return
    if isinstance(value, dict):
        for name, element in value.items():
            if not isinstance(name, str) or not name or not is_storable_text(name):
                raise InvalidInputError("Attribute names must be non-empty Unicode text")
            _check_value(element, depth=depth + 1)
        return
    raise InvalidInputError("Item values must be str, int, bool, None, lists or dicts")


def condition_holds(condition: Condition, current: Item | None) -> bool:
    if isinstance(condition, Absent):
        return current is None
    if isinstance(condition, Exists):
        return current is not None
    if isinstance(condition, VersionIs):
        if current is None:
            return False
        version = current.get("version")
        # True == 1 in Python, but DynamoDB keeps booleans and numbers apart.
        return (
            isinstance(version, int)
            and not isinstance(version, bool)
            and version == condition.version
        )
    raise TypeError(f"unknown condition {condition!r}")  # pragma: no cover - exhaustive


def validate_query(
    *, index: str | None, limit: int, partition: str = "", prefix: str | None = None
) -> None:
    if index is not None and index not in INDEXES:
        raise InvalidInputError(f"Unknown index {index!r}")
    if not 1 <= limit <= MAX_QUERY_LIMIT:
        raise InvalidInputError(f"limit must be between 1 and {MAX_QUERY_LIMIT}")
    if not is_storable_text(partition) or (prefix is not None and not is_storable_text(prefix)):
        raise InvalidInputError("Query keys must be valid Unicode text")


def validate_page_size(page_size: int) -> None:
    if page_size < 1:
        raise InvalidInputError("page_size must be at least 1")
