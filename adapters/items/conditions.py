"""Write validation and condition semantics shared by every ItemStore adapter, so that
"absent", "exists" and "version equals N" mean exactly the same everywhere."""

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from domain.errors import InvalidInputError
from domain.ports import (
    INDEXES,
    MAX_ADD,
    MAX_QUERY_LIMIT,
    MAX_WRITE_ITEMS,
    Absent,
    Add,
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
# Written into SQLite JSON paths and DynamoDB expression names: keep them plain.
_ADD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_KEY_ATTRIBUTES = frozenset(
    {"pk", "sk", *(name for index in INDEXES for name in index_keys(index))}
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
        elif isinstance(op, Add):
            _check_add(op)
        key = op_key(op)
        if key in seen:
            raise InvalidInputError("A write may touch each item only once")
        seen.add(key)


def is_storable_text(value: str) -> bool:
    """Lone surrogates have no UTF-8 form, so neither SQLite nor DynamoDB can hold them."""
    if value.isascii():  # a flag CPython keeps on the string: no encoding for most keys
        return True
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


def _check_add(op: Add) -> None:
    key = op.key
    if not all(
        isinstance(part, str) and part and is_storable_text(part) for part in (key.pk, key.sk)
    ):
        raise InvalidInputError("An Add needs a non-empty 'pk' and 'sk'")
    if not op.deltas:
        raise InvalidInputError("An Add needs at least one attribute to add to")
    for name, number in [*op.deltas.items(), *op.at_most.items()]:
        if not isinstance(name, str) or not _ADD_NAME.fullmatch(name) or name in _KEY_ATTRIBUTES:
            raise InvalidInputError(f"Cannot add to attribute {name!r}")
        if isinstance(number, bool) or not isinstance(number, int) or abs(number) > MAX_ADD:
            raise InvalidInputError(f"Deltas and bounds are whole numbers within +-{MAX_ADD}")
    if not set(op.at_most) <= set(op.deltas):
        raise InvalidInputError("An Add bounds only attributes it adds to")
    for name in op.defaults:
        if not isinstance(name, str) or not _ADD_NAME.fullmatch(name) or name in _KEY_ATTRIBUTES:
            raise InvalidInputError(f"Cannot default attribute {name!r}")
        if name in op.deltas:
            raise InvalidInputError("An Add's defaults and deltas name different attributes")
    _check_value(dict(op.defaults), depth=0)


def is_number(value: Any) -> bool:
    """What an Add may add to: DynamoDB keeps booleans apart from numbers."""
    return isinstance(value, int) and not isinstance(value, bool)


def add_holds(op: Add, current: Item | None) -> bool:
    """Whether ``op`` may apply to the stored ``current`` (what every store evaluates)."""
    values = current or {}
    for name, delta in op.deltas.items():
        value = values.get(name, 0)
        if not is_number(value):
            return False
        if name in op.at_most and value + delta > op.at_most[name]:
            return False
    return True


def added(op: Add, current: Item | None) -> Item:
    """The item after ``op`` (which must hold): what the store holds once it applied."""
    result: Item = dict(current) if current is not None else {"pk": op.key.pk, "sk": op.key.sk}
    for name, value in op.defaults.items():
        result.setdefault(name, value)
    for name, delta in op.deltas.items():
        result[name] = result.get(name, 0) + delta
    return result


def add_bounds(op: Add) -> Mapping[str, int]:
    """Per bounded attribute, the most it may hold *before* the addition."""
    return {name: bound - op.deltas[name] for name, bound in op.at_most.items()}


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
