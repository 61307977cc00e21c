"""In-memory ItemStore: the fake for unit tests. It passes the same contract suite as the
real adapters (tests/contract), which is what keeps it honest."""

import copy
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any

from adapters.items.conditions import (
    add_holds,
    added,
    check_write_batch,
    condition_holds,
    op_key,
    validate_page_size,
    validate_query,
)
from adapters.items.cursors import decode_cursor, encode_cursor
from domain.errors import ConflictError
from domain.ports import (
    Add,
    Delete,
    Item,
    Key,
    Page,
    Put,
    WriteOp,
    index_keys,
)

_LEAVES = frozenset({str, int, float, bool, type(None), bytes, Decimal})


def _copied(value: Any) -> Any:
    """A deep copy of an item's value, as copy.deepcopy makes it, several times faster for
    items (dicts, lists and sets of immutable leaves): no memo, no dispatch by reflection.
    Every read and write copies, so it was the fake's hot spot (bench/README.md)."""
    kind = type(value)
    if kind in _LEAVES:
        return value
    if kind is dict:
        return {key: _copied(inner) for key, inner in value.items()}
    if kind is list:
        return [_copied(inner) for inner in value]
    if kind is set:
        return set(value)  # members of a set are hashable, i.e. immutable leaves here
    return copy.deepcopy(value)


class InMemoryItemStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Item] = {}

    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        found = [self.items.get((key.pk, key.sk)) for key in keys]
        return [_copied(item) if item is not None else None for item in found]

    async def query(
        self,
        partition: str,
        *,
        index: str | None = None,
        prefix: str | None = None,
        after: str | None = None,
        limit: int = 100,
        descending: bool = False,
    ) -> Page:
        validate_query(index=index, limit=limit, partition=partition, prefix=prefix)
        pk_attr, sk_attr = index_keys(index) if index else ("pk", "sk")

        def position(item: Item) -> list[str]:
            if index is None:
                return [item["sk"]]
            return [item[sk_attr], item["pk"], item["sk"]]

        matching = [
            item
            for item in self.items.values()
            if item.get(pk_attr) == partition
            and isinstance(item.get(sk_attr), str)
            and (prefix is None or item[sk_attr].startswith(prefix))
        ]
        matching.sort(key=position, reverse=descending)
        if after is not None:
            start = decode_cursor(after, parts=1 if index is None else 3)
            matching = [
                item
                for item in matching
                if (position(item) < start if descending else position(item) > start)
            ]
        page = matching[:limit]
        item_cursors = [encode_cursor(position(item)) for item in page]
        cursor = item_cursors[-1] if len(matching) > limit else None
        return Page(
            items=[_copied(item) for item in page], cursor=cursor, item_cursors=item_cursors
        )

    async def write(self, ops: Sequence[WriteOp]) -> None:
        check_write_batch(ops)
        for op in ops:
            current = self.items.get(op_key(op))
            if isinstance(op, Add):
                holds = add_holds(op, current)
            else:
                holds = op.condition is None or condition_holds(op.condition, current)
            if not holds:
                raise ConflictError("The item changed or already exists; nothing was written")
        for op in ops:
            if isinstance(op, Put):
                self.items[op_key(op)] = _copied(op.item)
            elif isinstance(op, Delete):
                self.items.pop(op_key(op), None)
            elif isinstance(op, Add):
                self.items[op_key(op)] = _copied(added(op, self.items.get(op_key(op))))

    async def scan(self, *, page_size: int = 500) -> AsyncIterator[list[Item]]:
        validate_page_size(page_size)
        snapshot = [_copied(item) for item in self.items.values()]
        for start in range(0, len(snapshot), page_size):
            yield snapshot[start : start + page_size]

    async def ping(self) -> None:
        return None
