"""ItemStore contract: conditional, atomic writes and what a write refuses."""

from typing import Any

import pytest

from domain.errors import ConflictError, InvalidInputError
from domain.ports import (
    MAX_WRITE_ITEMS,
    Absent,
    Check,
    Condition,
    Delete,
    Exists,
    Item,
    ItemStore,
    Key,
    Put,
    VersionIs,
    WriteOp,
)
from tests.support.stores import put_all


def item(pk: str, sk: str, **attributes: Any) -> Item:
    return {"pk": pk, "sk": sk, **attributes}


async def get(store: ItemStore, pk: str, sk: str) -> Item | None:
    [found] = await store.get_many([Key(pk, sk)])
    return found


async def test_create_with_absent_succeeds_once(item_store: ItemStore) -> None:
    await item_store.write([Put(item("U", "1", name="first"), Absent())])

    with pytest.raises(ConflictError):
        await item_store.write([Put(item("U", "1", name="second"), Absent())])

    assert await get(item_store, "U", "1") == item("U", "1", name="first")


async def test_absent_holds_again_after_a_delete(item_store: ItemStore) -> None:
    await put_all(item_store, [item("U", "1", name="old")])
    await item_store.write([Delete(Key("U", "1"))])

    await item_store.write([Put(item("U", "1", name="new"), Absent())])

    assert await get(item_store, "U", "1") == item("U", "1", name="new")


async def test_exists_requires_the_item(item_store: ItemStore) -> None:
    with pytest.raises(ConflictError):
        await item_store.write([Put(item("U", "1", n=1), Exists())])
    assert await get(item_store, "U", "1") is None

    await put_all(item_store, [item("U", "1", n=1)])
    await item_store.write([Put(item("U", "1", n=2), Exists())])
    assert await get(item_store, "U", "1") == item("U", "1", n=2)


async def test_version_is_replaces_only_the_expected_version(item_store: ItemStore) -> None:
    await put_all(item_store, [item("F", "1", version=1, name="a")])

    await item_store.write([Put(item("F", "1", version=2, name="b"), VersionIs(1))])
    with pytest.raises(ConflictError):
        await item_store.write([Put(item("F", "1", version=2, name="stale"), VersionIs(1))])

    assert await get(item_store, "F", "1") == item("F", "1", version=2, name="b")


@pytest.mark.parametrize(
    "current",
    [None, item("F", "1"), item("F", "1", version=True), item("F", "1", version="1")],
    ids=["missing-item", "no-version", "boolean-version", "text-version"],
)
async def test_version_is_fails_without_an_integer_version(
    item_store: ItemStore, current: Item | None
) -> None:
    if current is not None:
        await put_all(item_store, [current])

    with pytest.raises(ConflictError):
        await item_store.write([Put(item("F", "1", version=2), VersionIs(1))])

    assert await get(item_store, "F", "1") == current


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        (None, True),
        (Exists(), True),
        (VersionIs(4), True),
        (VersionIs(3), False),
        (Absent(), False),
    ],
    ids=["unconditional", "exists", "version-match", "version-mismatch", "absent"],
)
async def test_delete_honours_its_condition(
    item_store: ItemStore, condition: Condition | None, holds: bool
) -> None:
    await put_all(item_store, [item("F", "1", version=4)])

    if holds:
        await item_store.write([Delete(Key("F", "1"), condition)])
        assert await get(item_store, "F", "1") is None
    else:
        with pytest.raises(ConflictError):
            await item_store.write([Delete(Key("F", "1"), condition)])
        assert await get(item_store, "F", "1") == item("F", "1", version=4)


async def test_deleting_a_missing_item_is_fine_unless_a_condition_says_so(
    item_store: ItemStore,
) -> None:
    await item_store.write([Delete(Key("F", "404"))])
    with pytest.raises(ConflictError):
        await item_store.write([Delete(Key("F", "404"), Exists())])
    assert await get(item_store, "F", "404") is None


async def test_check_gates_the_write_and_writes_nothing_itself(item_store: ItemStore) -> None:
    await put_all(item_store, [item("USER", "1", version=7)])

    await item_store.write(
        [
            Check(Key("USER", "1"), VersionIs(7)),
            Check(Key("NAME", "x"), Absent()),
            Put(item("FILE", "1", owner="1")),
        ]
    )
    with pytest.raises(ConflictError):
        await item_store.write([Check(Key("USER", "1"), VersionIs(6)), Put(item("FILE", "2"))])

    found = await item_store.get_many([Key("USER", "1"), Key("NAME", "x"), Key("FILE", "1")])
    assert found == [item("USER", "1", version=7), None, item("FILE", "1", owner="1")]
    assert await get(item_store, "FILE", "2") is None


@pytest.mark.parametrize(
    "failing",
    [
        Check(Key("USER", "1"), VersionIs(99)),
        Put(item("USER", "1", version=2), Absent()),
        Delete(Key("GONE", "1"), Exists()),
    ],
    ids=["check", "put", "delete"],
)
async def test_a_failing_last_condition_leaves_every_item_unchanged(
    item_store: ItemStore, failing: WriteOp
) -> None:
    before = [
        item("USER", "1", version=1, gsi1pk="G", gsi1sk="1"),
        item("FILE", "1", version=3),
        item("FILE", "2", version=1),
    ]
    await put_all(item_store, before)
    ops: list[WriteOp] = [
        Put(item("FILE", "1", version=4), VersionIs(3)),
        Delete(Key("FILE", "2"), Exists()),
        Put(item("NEW", "1", gsi1pk="G", gsi1sk="0"), Absent()),
        *(Put(item("BULK", f"{i}")) for i in range(10)),
        failing,
    ]

    with pytest.raises(ConflictError):
        await item_store.write(ops)

    keys = [Key(entry["pk"], entry["sk"]) for entry in before]
    keys += [Key("NEW", "1"), Key("GONE", "1"), *(Key("BULK", f"{i}") for i in range(10))]
    assert await item_store.get_many(keys) == before + [None] * 12
    assert (await item_store.query("G", index="gsi1")).items == before[:1]


async def test_a_write_of_exactly_the_limit_is_applied(item_store: ItemStore) -> None:
    await item_store.write([Put(item("B", f"{i:03}")) for i in range(MAX_WRITE_ITEMS)])
    assert len((await item_store.query("B", limit=MAX_WRITE_ITEMS + 1)).items) == MAX_WRITE_ITEMS


async def test_a_write_over_the_limit_is_refused_and_writes_nothing(item_store: ItemStore) -> None:
    with pytest.raises(InvalidInputError):
        await item_store.write([Put(item("B", f"{i:03}")) for i in range(MAX_WRITE_ITEMS + 1)])
    assert (await item_store.query("B")).items == []


@pytest.mark.parametrize(
    "second",
    [Put(item("A", "1", n=2)), Delete(Key("A", "1")), Check(Key("A", "1"), Exists())],
    ids=["put", "delete", "check"],
)
async def test_touching_one_item_twice_is_refused(item_store: ItemStore, second: WriteOp) -> None:
    await put_all(item_store, [item("A", "1", n=0)])

    with pytest.raises(InvalidInputError):
        await item_store.write([Put(item("OTHER", "1")), Put(item("A", "1", n=1)), second])

    assert await item_store.get_many([Key("A", "1"), Key("OTHER", "1")]) == [
        item("A", "1", n=0),
        None,
    ]


async def test_an_empty_write_is_refused(item_store: ItemStore) -> None:
    with pytest.raises(InvalidInputError):
        await item_store.write([])


def nested(levels: int) -> Any:
    """Lists ``levels`` deep; the item itself is one more level, DynamoDB allows 32."""
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


REFUSED_ITEMS: dict[str, Item] = {
    "int-pk": {"pk": 1, "sk": "a"},
    "none-sk": {"pk": "a", "sk": None},
    "missing-sk": {"pk": "a"},
    "empty-pk": {"pk": "", "sk": "a"},
    "empty-sk": {"pk": "a", "sk": ""},
    "int-index-key": {"pk": "a", "sk": "b", "gsi1pk": 5, "gsi1sk": "x"},
    "empty-index-key": {"pk": "a", "sk": "b", "gsi2pk": "x", "gsi2sk": ""},
    "float": {"pk": "a", "sk": "b", "size": 1.5},
    "nested-float": {"pk": "a", "sk": "b", "meta": {"ratio": [0.5]}},
    "tuple": {"pk": "a", "sk": "b", "pair": (1, 2)},
    "set": {"pk": "a", "sk": "b", "tags": {"x"}},
    "bytes": {"pk": "a", "sk": "b", "raw": b"\x00"},
    "int-over-38-digits": {"pk": "a", "sk": "b", "n": 10**38},
    "negative-int-over-38-digits": {"pk": "a", "sk": "b", "n": -(10**38)},
    "surrogate-text": {"pk": "a", "sk": "b", "name": "\ud83d"},
    "surrogate-pk": {"pk": "a\udc00", "sk": "b"},
    "non-text-map-key": {"pk": "a", "sk": "b", "map": {1: "one"}},
    "too-deep": {"pk": "a", "sk": "b", "deep": nested(32)},
    "empty-attribute-name": {"pk": "a", "sk": "b", "": "x"},
    "over-400-kib": {"pk": "a", "sk": "b", "body": "x" * (400 * 1024)},
}


@pytest.mark.parametrize("refused", REFUSED_ITEMS.values(), ids=REFUSED_ITEMS.keys())
async def test_items_no_backend_can_store_are_refused(item_store: ItemStore, refused: Item) -> None:
    with pytest.raises(InvalidInputError):
        await item_store.write([Put(item("OK", "1")), Put(refused)])
    assert await get(item_store, "OK", "1") is None


async def test_nesting_up_to_the_limit_is_accepted(item_store: ItemStore) -> None:
    await item_store.write([Put(item("D", "1", deep=nested(31)))])
    assert await get(item_store, "D", "1") == item("D", "1", deep=nested(31))
