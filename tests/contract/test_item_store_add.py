"""ItemStore contract: Add, the atomic conditional addition counters rely on."""

import asyncio
from typing import Any

import pytest

from domain.errors import ConflictError, InvalidInputError
from domain.ports import Absent, Add, Item, ItemStore, Key, Put
from tests.support.stores import put_all

COUNTER = Key("USER#u", "USAGE")


def item(pk: str, sk: str, **attributes: Any) -> Item:
    return {"pk": pk, "sk": sk, **attributes}


async def get(store: ItemStore, key: Key) -> Item | None:
    [found] = await store.get_many([key])
    return found


async def test_an_add_creates_the_item_with_its_defaults(item_store: ItemStore) -> None:
    await item_store.write([Add(COUNTER, {"used": 5, "files": 1}, defaults={"type": "T"})])

    assert await get(item_store, COUNTER) == item("USER#u", "USAGE", used=5, files=1, type="T")


async def test_adds_accumulate_and_defaults_never_overwrite(item_store: ItemStore) -> None:
    await put_all(item_store, [item("USER#u", "USAGE", type="kept", other="x")])

    await item_store.write([Add(COUNTER, {"used": 5}, defaults={"type": "T", "new": [1]})])
    await item_store.write([Add(COUNTER, {"used": -2, "files": 3})])

    assert await get(item_store, COUNTER) == item(
        "USER#u", "USAGE", type="kept", other="x", new=[1], used=3, files=3
    )


async def test_reaching_the_bound_exactly_is_allowed(item_store: ItemStore) -> None:
    await item_store.write([Add(COUNTER, {"used": 60}, at_most={"used": 100})])
    await item_store.write([Add(COUNTER, {"used": 40}, at_most={"used": 100})])

    assert (await get(item_store, COUNTER) or {})["used"] == 100


async def test_one_over_the_bound_fails_and_changes_nothing(item_store: ItemStore) -> None:
    await item_store.write([Add(COUNTER, {"used": 60, "files": 1})])

    with pytest.raises(ConflictError):
        await item_store.write(
            [Add(COUNTER, {"used": 41, "files": 1}, at_most={"used": 100, "files": 10})]
        )

    assert await get(item_store, COUNTER) == item("USER#u", "USAGE", used=60, files=1)


async def test_a_bound_applies_to_a_missing_item_too(item_store: ItemStore) -> None:
    with pytest.raises(ConflictError):
        await item_store.write([Add(COUNTER, {"used": 101}, at_most={"used": 100})])
    assert await get(item_store, COUNTER) is None

    await item_store.write([Add(COUNTER, {"used": 100}, at_most={"used": 100})])
    assert await get(item_store, COUNTER) == item("USER#u", "USAGE", used=100)


async def test_a_negative_bound_is_checked_like_any_other(item_store: ItemStore) -> None:
    await put_all(item_store, [item("USER#u", "USAGE", used=3)])

    with pytest.raises(ConflictError):
        await item_store.write([Add(COUNTER, {"used": -2}, at_most={"used": 0})])
    await item_store.write([Add(COUNTER, {"used": -3}, at_most={"used": 0})])

    assert (await get(item_store, COUNTER) or {})["used"] == 0


@pytest.mark.parametrize("stored", ["5", True, [1], {"n": 1}])
async def test_adding_to_what_is_not_a_number_fails(item_store: ItemStore, stored: Any) -> None:
    await put_all(item_store, [item("USER#u", "USAGE", used=stored)])

    with pytest.raises(ConflictError):
        await item_store.write([Add(COUNTER, {"used": 1})])

    assert await get(item_store, COUNTER) == item("USER#u", "USAGE", used=stored)


async def test_a_failed_bound_cancels_the_rest_of_the_write(item_store: ItemStore) -> None:
    await item_store.write([Add(COUNTER, {"used": 90})])

    with pytest.raises(ConflictError):
        await item_store.write(
            [Put(item("F", "1"), Absent()), Add(COUNTER, {"used": 11}, at_most={"used": 100})]
        )

    assert await get(item_store, Key("F", "1")) is None
    assert (await get(item_store, COUNTER) or {})["used"] == 90


async def test_a_failed_condition_cancels_the_add(item_store: ItemStore) -> None:
    await put_all(item_store, [item("F", "1")])

    with pytest.raises(ConflictError):
        await item_store.write([Put(item("F", "1"), Absent()), Add(COUNTER, {"used": 1})])

    assert await get(item_store, COUNTER) is None


def skip_in_process_moto(request: pytest.FixtureRequest) -> None:
    if request.node.callspec.params["item_store"].name == "dynamodb-moto":
        pytest.skip(
            "in-process moto is not thread-safe (a transaction deep-copies the table); "
            "dynamodb-moto-server runs this against DynamoDB's semantics"
        )


async def test_concurrent_adds_lose_no_update(
    item_store: ItemStore, request: pytest.FixtureRequest
) -> None:
    skip_in_process_moto(request)

    async def add_one(n: int) -> None:
        await item_store.write(
            [Put(item("F", str(n)), Absent()), Add(COUNTER, {"used": n, "files": 1})]
        )

    await asyncio.gather(*(add_one(n) for n in range(1, 49)))

    assert await get(item_store, COUNTER) == item(
        "USER#u", "USAGE", used=sum(range(1, 49)), files=48
    )


async def test_concurrent_adds_never_pass_the_bound(
    item_store: ItemStore, request: pytest.FixtureRequest
) -> None:
    skip_in_process_moto(request)
    sizes = [7 + n % 5 for n in range(48)]  # 432 in all, against a bound of 300

    async def add(size: int) -> bool:
        try:
            await item_store.write([Add(COUNTER, {"used": size}, at_most={"used": 300})])
        except ConflictError:
            return False
        return True

    accepted = await asyncio.gather(*(add(size) for size in sizes))

    used = (await get(item_store, COUNTER) or {})["used"]
    assert used == sum(size for size, ok in zip(sizes, accepted, strict=True) if ok)
    assert used <= 300
    # The counter only grew, so every refused add would still not fit.
    refused = [size for size, ok in zip(sizes, accepted, strict=True) if not ok]
    assert refused
    assert all(used + size > 300 for size in refused)


@pytest.mark.parametrize(
    "op",
    [
        Add(COUNTER, {}),
        Add(COUNTER, {"pk": 1}),
        Add(COUNTER, {"gsi1pk": 1}),
        Add(COUNTER, {"a b": 1}),
        Add(COUNTER, {"used": True}),
        Add(COUNTER, {"used": 10**16}),
        Add(COUNTER, {"used": 1}, at_most={"other": 5}),
        Add(COUNTER, {"used": 1}, at_most={"used": 10**16}),
        Add(COUNTER, {"used": 1}, defaults={"used": 0}),
        Add(COUNTER, {"used": 1}, defaults={"sk": "x"}),
        Add(COUNTER, {"used": 1}, defaults={"x": 1.5}),
        Add(Key("", "USAGE"), {"used": 1}),
    ],
)
async def test_a_malformed_add_is_refused(item_store: ItemStore, op: Add) -> None:
    with pytest.raises(InvalidInputError):
        await item_store.write([op])
    assert await get(item_store, COUNTER) is None
