"""myFiles, User.files and sharedWithMe: newest first, complete paging, filters across
pages, only readable files, and a constant number of store calls per page."""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from domain.errors import InvalidInputError
from domain.files import FileFilter, FilePage
from domain.models import FileRecord, FileStatus, Visibility
from domain.paging import MAX_FETCHES
from tests.support.file_world import World, make_world

Lister = Callable[[int, str | None], Awaitable[FilePage]]


@pytest.fixture
def world() -> World:
    return make_world()


def files_of(
    world: World, viewer_name: str, owner_name: str, file_filter: FileFilter | None = None
) -> Lister:
    viewer, owner = world.users[viewer_name], world.users[owner_name]
    return lambda n, after: world.service.list_files_of(
        viewer, owner.user_id, first=n, after=after, file_filter=file_filter
    )


async def page_through(list_page: Lister, first: int) -> list[FileRecord]:
    """Every record, following cursors; fails on a repeated record or a runaway loop."""
    seen: list[FileRecord] = []
    after: str | None = None
    for _ in range(200):
        page = await list_page(first, after)
        assert len(page.records) <= first
        seen += page.records
        if page.next_position is None:
            ids = [record.id for record in seen]
            assert len(ids) == len(set(ids)), "a record came twice"
            return seen
        after = page.next_position
    raise AssertionError("paging did not end")


async def make_files(world: World, owner_name: str, count: int, **declared: Any) -> list[str]:
    owner = await world.user(owner_name)
    ids = []
    for _ in range(count):
        world.clock.advance(1)
        ids.append((await world.ready(owner, **declared)).id)
    return ids


async def test_my_files_come_newest_first_without_gaps_or_repeats(world: World) -> None:
    ids = await make_files(world, "alice", 23)
    alice = world.users["alice"]

    for first in (1, 7, 23, 100):
        records = await page_through(
            lambda n, after: world.service.list_files_of(
                alice, alice.user_id, first=n, after=after
            ),
            first,
        )
        assert [record.id for record in records] == ids[::-1]


@pytest.mark.parametrize("first", [0, -1, 101, True])
async def test_page_size_is_1_to_100(world: World, first: int) -> None:
    alice = await world.user("alice")
    with pytest.raises(InvalidInputError, match="first"):
        await world.service.list_files_of(alice, alice.user_id, first=first)
    with pytest.raises(InvalidInputError, match="first"):
        await world.service.list_shared_with_me(alice, first=first)


async def test_a_malformed_position_is_refused(world: World) -> None:
    alice = await world.user("alice")
    with pytest.raises(InvalidInputError):
        await world.service.list_files_of(alice, alice.user_id, first=5, after="garbage!")


async def test_filters_hold_across_pages(world: World) -> None:
    alice = await world.user("alice")
    expected: dict[str, list[str]] = {"image": [], "tagged": [], "pending": []}
    for i in range(40):
        world.clock.advance(1)
        image = i % 3 == 0
        tags = ["holiday"] if i % 4 == 0 else []
        declared: dict[str, Any] = {
            "content_type": "image/png" if image else "text/plain",
            "tags": tags,
        }
        if i % 5 == 0:
            record = await world.pending(alice, **declared)
            expected["pending"].append(record.id)
        else:
            record = await world.ready(alice, **declared)
        if image:
            expected["image"].append(record.id)
        if tags:
            expected["tagged"].append(record.id)

    filters = {
        "image": FileFilter(content_type_prefix="Image/"),
        "tagged": FileFilter(tag="HOLIDAY"),
        "pending": FileFilter(status=FileStatus.PENDING),
    }
    for name, file_filter in filters.items():
        for first in (1, 3, 100):
            records = await page_through(files_of(world, "alice", "alice", file_filter), first)
            assert [record.id for record in records] == expected[name][::-1], (name, first)


async def test_another_users_files_show_only_what_the_viewer_may_read(world: World) -> None:
    alice = await world.user("alice")
    await world.user("bob")
    await world.user("root", admin=True)
    visible: list[str] = []
    every: list[str] = []
    for i in range(30):
        world.clock.advance(1)
        public = i % 7 == 0
        record = await world.ready(
            alice, visibility=Visibility.PUBLIC if public else Visibility.PRIVATE
        )
        if i % 11 == 0:
            record = await world.service.share_file(alice, record.id, "bob")
        if public or i % 11 == 0:
            visible.append(record.id)
        every.append(record.id)

    for first in (1, 2, 5):
        records = await page_through(files_of(world, "bob", "alice"), first)
        assert [record.id for record in records] == visible[::-1]
    records = await page_through(files_of(world, "root", "alice"), 10)
    assert [record.id for record in records] == every[::-1]


async def test_shared_with_me_lists_the_most_recently_shared_first(world: World) -> None:
    await world.user("bob")
    alice_ids = await make_files(world, "alice", 3)
    carol_ids = await make_files(world, "carol", 3)
    alice, bob, carol = world.users["alice"], world.users["bob"], world.users["carol"]
    order = [
        (alice, alice_ids[1]),
        (carol, carol_ids[0]),
        (alice, alice_ids[2]),
        (carol, carol_ids[2]),
        (alice, alice_ids[0]),
    ]
    for owner, file_id in order:
        world.clock.advance(1)
        await world.service.share_file(owner, file_id, "bob")

    def shared(n: int, after: str | None) -> Awaitable[FilePage]:
        return world.service.list_shared_with_me(bob, first=n, after=after)

    newest_first = [file_id for _, file_id in order][::-1]
    for first in (1, 2, 10):
        assert [record.id for record in await page_through(shared, first)] == newest_first
    await world.service.unshare_file(carol, carol_ids[2], "bob")
    await world.service.delete_file(alice, alice_ids[0])
    remaining = [record.id for record in await page_through(shared, 2)]
    assert remaining == [alice_ids[2], carol_ids[0], alice_ids[1]]


async def test_a_share_item_without_its_file_is_skipped(world: World) -> None:
    await world.user("bob")
    ids = await make_files(world, "alice", 2)
    alice, bob = world.users["alice"], world.users["bob"]
    for file_id in ids:
        await world.service.share_file(alice, file_id, "bob")
    del world.items.items[("FILE#" + ids[1], "META")]  # as if a restore lost it
    page = await world.service.list_shared_with_me(bob, first=10)
    assert [record.id for record in page.records] == [ids[0]]
    assert await world.service.repository.get_many([ids[1], ids[0]]) == [None, page.records[0]]


async def test_a_page_of_my_files_costs_one_query_and_one_batched_read(world: World) -> None:
    """The listing items are read consistently from the table, then their metas in one
    batch: the price of read-your-writes on DynamoDB, whose index cannot be read so."""
    await make_files(world, "alice", 120)
    alice = world.users["alice"]
    for first in (10, 100):
        world.store.calls.clear()
        page = await world.service.list_files_of(alice, alice.user_id, first=first)
        assert len(page.records) == first
        assert world.store.calls == {"query": 1, "get_many": 1}


async def test_a_page_shared_with_me_costs_one_query_and_one_batched_read(world: World) -> None:
    await world.user("bob")
    ids = await make_files(world, "alice", 60)
    alice, bob = world.users["alice"], world.users["bob"]
    for file_id in ids:
        await world.service.share_file(alice, file_id, "bob")
    for first in (5, 50):
        world.store.calls.clear()
        page = await world.service.list_shared_with_me(bob, first=first)
        assert len(page.records) == first
        assert world.store.calls == {"query": 1, "get_many": 1}


async def test_a_selective_filter_costs_a_bounded_number_of_calls(world: World) -> None:
    await make_files(world, "alice", 300)
    alice = world.users["alice"]
    world.store.calls.clear()
    page = await world.service.list_files_of(
        alice, alice.user_id, first=10, file_filter=FileFilter(tag="absent")
    )
    assert page.records == []
    assert page.next_position is not None  # not everything was examined: more may match
    assert world.store.calls["query"] <= MAX_FETCHES + 1


async def test_get_many_answers_in_order_with_one_store_call(world: World) -> None:
    ids = await make_files(world, "alice", 3)
    world.store.calls.clear()
    records = await world.service.repository.get_many([ids[2], "missing", ids[0], ids[2]])
    assert [record.id if record else None for record in records] == [ids[2], None, ids[0], ids[2]]
    assert world.store.calls == {"get_many": 1}
