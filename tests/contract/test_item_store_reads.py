"""ItemStore contract: point reads, round trips, scan and ping."""

import random
from typing import Any

import pytest

from domain.errors import InvalidInputError
from domain.ports import Item, ItemStore, Key, Put
from tests.support.stores import put_all


def item(pk: str, sk: str, **attributes: Any) -> Item:
    return {"pk": pk, "sk": sk, **attributes}


def typed(value: Any) -> Any:
    """A view of a value in which True and 1 (and dict order) differ, as they do in JSON."""
    if isinstance(value, dict):
        return ("dict", [(name, typed(element)) for name, element in value.items()])
    if isinstance(value, list):
        return ("list", [typed(element) for element in value])
    return (type(value).__name__, value)


async def test_get_many_answers_in_key_order_with_none_for_missing(item_store: ItemStore) -> None:
    await put_all(item_store, [item("A", "1", n=1), item("A", "2", n=2), item("B", "1", n=3)])

    found = await item_store.get_many([Key("B", "1"), Key("A", "3"), Key("A", "1"), Key("A", "2")])

    assert found == [item("B", "1", n=3), None, item("A", "1", n=1), item("A", "2", n=2)]


async def test_get_many_gives_every_duplicate_key_its_own_copy(item_store: ItemStore) -> None:
    await put_all(item_store, [item("A", "1", tags=["x"])])

    found = await item_store.get_many([Key("A", "1"), Key("Z", "9"), Key("A", "1")])
    assert found == [item("A", "1", tags=["x"]), None, item("A", "1", tags=["x"])]
    assert found[0] is not None
    found[0]["tags"].append("changed by the caller")

    assert found[2] == item("A", "1", tags=["x"])
    assert await item_store.get_many([Key("A", "1")]) == [item("A", "1", tags=["x"])]


async def test_get_many_handles_more_keys_than_one_batch(item_store: ItemStore) -> None:
    stored = [item(f"P{i % 7}", f"S{i:04}", n=i) for i in range(250)]
    await put_all(item_store, stored)
    keys = [Key(entry["pk"], entry["sk"]) for entry in stored]
    keys += [Key("P1", f"missing{i}") for i in range(30)] + keys[:20]
    random.Random(7).shuffle(keys)

    found = await item_store.get_many(keys)

    by_key = {(entry["pk"], entry["sk"]): entry for entry in stored}
    assert found == [by_key.get((key.pk, key.sk)) for key in keys]
    assert sum(entry is None for entry in found) == 30


async def test_get_many_of_no_keys_is_empty(item_store: ItemStore) -> None:
    await put_all(item_store, [item("A", "1")])
    assert await item_store.get_many([]) == []


async def test_get_many_of_a_key_no_store_can_hold_is_none(item_store: ItemStore) -> None:
    # A lone surrogate (e.g. "\ud800" in a GraphQL string) cannot be stored, so it is missing.
    await put_all(item_store, [item("A", "1")])
    assert await item_store.get_many([Key("A\ud800", "1"), Key("A", "1")]) == [None, item("A", "1")]


EVERY_VALUE_TYPE: Item = {
    "pk": "ROUND#1",
    "sk": "META",
    "text": "plain",
    "empty_text": "",
    "unicode": "héllo wörld € 😀 \u0000 \n \"quoted\" \\ 'single'",
    "zero": 0,
    "negative": -17,
    "big": 2**63 + 1,
    "biggest": 10**38 - 1,
    "most_negative": -(10**38 - 1),
    "yes": True,
    "no": False,
    "nothing": None,
    "empty_list": [],
    "empty_map": {},
    "list": [1, "two", True, None, [3, [4]], {"five": 5}],
    "map": {"nested": {"deeper": {"list": [False, 0, ""]}}, "z": 1, "a": 2},
    "version": 3,
}


async def test_items_round_trip_exactly_through_every_read(item_store: ItemStore) -> None:
    stored = dict(EVERY_VALUE_TYPE, gsi1pk="ROUNDS", gsi1sk="1")
    await item_store.write([Put(stored)])

    [got] = await item_store.get_many([Key("ROUND#1", "META")])
    queried = (await item_store.query("ROUND#1")).items
    indexed = (await item_store.query("ROUNDS", index="gsi1")).items
    scanned = [entry async for page in item_store.scan() for entry in page]

    for copy in (got, *queried, *indexed, *scanned):
        assert typed(copy) == typed(stored)
    assert len(queried) == len(indexed) == len(scanned) == 1


async def test_put_replaces_the_whole_item(item_store: ItemStore) -> None:
    await put_all(item_store, [item("A", "1", kept=1, dropped=2, gsi1pk="G", gsi1sk="1")])

    await item_store.write([Put(item("A", "1", kept=10))])

    assert await item_store.get_many([Key("A", "1")]) == [item("A", "1", kept=10)]
    assert (await item_store.query("G", index="gsi1")).items == []


async def test_changing_a_returned_item_does_not_change_the_store(item_store: ItemStore) -> None:
    original = item("A", "1", tags=["a"], meta={"k": "v"})
    await put_all(item_store, [original])
    page = await item_store.query("A")

    page.items[0]["tags"].append("b")
    page.items[0]["meta"]["k"] = "changed"
    original["tags"].append("c")

    assert await item_store.get_many([Key("A", "1")]) == [
        item("A", "1", tags=["a"], meta={"k": "v"})
    ]


async def test_scan_returns_every_item_exactly_once(item_store: ItemStore) -> None:
    stored = [item(f"P{i % 4}", f"S{i:03}", n=i) for i in range(23)]
    await put_all(item_store, stored)

    pages = [page async for page in item_store.scan(page_size=5)]

    assert all(1 <= len(page) <= 5 for page in pages)
    scanned = [entry for page in pages for entry in page]
    assert len(scanned) == len(stored)
    assert sorted(scanned, key=lambda entry: entry["n"]) == stored


async def test_scan_of_an_empty_store_finds_nothing(item_store: ItemStore) -> None:
    assert [entry async for page in item_store.scan(page_size=3) for entry in page] == []


async def test_scan_with_a_page_size_below_one_is_refused(item_store: ItemStore) -> None:
    with pytest.raises(InvalidInputError):
        async for _ in item_store.scan(page_size=0):
            pass


async def test_ping_answers_when_the_store_is_up(item_store: ItemStore) -> None:
    await item_store.ping()
    await put_all(item_store, [item("A", "1")])
    await item_store.ping()
