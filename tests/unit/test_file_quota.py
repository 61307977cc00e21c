"""The per-user storage quota: PENDING reservations plus READY bytes, enforced atomically."""

import asyncio

import pytest

from domain.errors import ConflictError, InvalidInputError
from domain.files import NewFile
from domain.files.quota import Usage
from domain.models import FileRecord
from tests.support.file_world import PENDING_TTL, World, file_items_of, make_world

QUOTA = 100


def declare(size: int) -> NewFile:
    return NewFile(name="blob.bin", content_type="application/octet-stream", size=size)


async def reserved_ids(world: World, owner_id: str) -> set[str]:
    return {r.file_id for r in await world.service.repository.reservations(owner_id)}


@pytest.fixture
def world() -> World:
    return make_world(quota_bytes=QUOTA)


async def test_uploads_may_fill_the_quota_exactly(world: World) -> None:
    alice = await world.user("alice")
    await world.service.create_upload(alice, declare(60))
    await world.service.create_upload(alice, declare(40))
    assert (await world.service.repository.usage(alice.user_id)).used_bytes == QUOTA


async def test_one_byte_over_the_quota_is_refused_and_nothing_is_written(world: World) -> None:
    alice = await world.user("alice")
    await world.service.create_upload(alice, declare(60))
    usage_before = await world.service.repository.usage(alice.user_id)

    with pytest.raises(InvalidInputError) as raised:
        await world.service.create_upload(alice, declare(41))

    assert str(raised.value).startswith("storage quota exceeded: 60 of 100 bytes used")
    assert len(file_items_of(world.items)) == 1
    assert await world.service.repository.usage(alice.user_id) == usage_before


async def test_ready_files_count_against_the_quota(world: World) -> None:
    alice = await world.user("alice")
    await world.ready(alice, b"x" * 70)
    with pytest.raises(InvalidInputError, match="quota exceeded"):
        await world.service.create_upload(alice, declare(31))
    await world.service.create_upload(alice, declare(30))


async def test_quotas_are_per_user(world: World) -> None:
    alice, bob = await world.user("alice"), await world.user("bob")
    await world.service.create_upload(alice, declare(QUOTA))
    await world.service.create_upload(bob, declare(QUOTA))


async def test_concurrent_uploads_cannot_exceed_the_quota() -> None:
    world = make_world(quota_bytes=QUOTA, interleaving=True)
    alice = await world.user("alice")

    results = await asyncio.gather(
        *(world.service.create_upload(alice, declare(30)) for _ in range(5)),
        return_exceptions=True,
    )

    created = [result for result in results if isinstance(result, tuple)]
    refused = [result for result in results if isinstance(result, InvalidInputError)]
    assert (len(created), len(refused)) == (3, 2), results
    assert len(file_items_of(world.items)) == 3
    usage = await world.service.repository.usage(alice.user_id)
    assert usage == Usage(alice.user_id, used_bytes=90, pending_uploads=3)
    assert await reserved_ids(world, alice.user_id) == {record.id for record, _ in created}


async def test_parallel_uploads_of_one_user_each_write_once_and_all_succeed() -> None:
    world = make_world(quota_bytes=QUOTA, interleaving=True, max_pending_uploads=50)
    alice = await world.user("alice")
    calls_before = world.store.calls["write"]

    results = await asyncio.gather(
        *(world.service.create_upload(alice, declare(2)) for _ in range(50))
    )

    assert len(results) == 50
    # Two writes per upload (its bytes counted alone, then the file): the store
    # serialised them, nothing conflicted or retried.
    assert world.store.calls["write"] - calls_before == 100
    usage = await world.service.repository.usage(alice.user_id)
    assert usage == Usage(alice.user_id, used_bytes=100, pending_uploads=50)


async def test_expired_reservations_no_longer_count(world: World) -> None:
    alice = await world.user("alice")
    abandoned, _ = await world.service.create_upload(alice, declare(80))
    with pytest.raises(InvalidInputError, match="quota exceeded"):
        await world.service.create_upload(alice, declare(80))

    world.clock.advance(PENDING_TTL)
    fresh, _ = await world.service.create_upload(alice, declare(80))

    assert await reserved_ids(world, alice.user_id) == {fresh.id}
    usage = await world.service.repository.usage(alice.user_id)
    assert usage == Usage(alice.user_id, used_bytes=80, pending_uploads=1)
    with pytest.raises(InvalidInputError, match="expired"):
        await world.service.complete_upload(alice, abandoned.id)


async def test_completed_uploads_are_never_reclaimed(world: World) -> None:
    alice = await world.user("alice")
    await world.ready(alice, b"x" * 25)
    world.clock.advance(PENDING_TTL)

    with pytest.raises(InvalidInputError, match="25 of 100 bytes used, 80 more requested"):
        await world.service.create_upload(alice, declare(80))

    usage = await world.service.repository.usage(alice.user_id)
    assert usage == Usage(alice.user_id, used_bytes=25, pending_uploads=0)


async def test_unfinished_uploads_per_user_are_capped() -> None:
    world = make_world(quota_bytes=QUOTA, max_pending_uploads=3)
    alice = await world.user("alice")
    for _ in range(3):
        await world.service.create_upload(alice, declare(1))
    with pytest.raises(InvalidInputError, match="too many unfinished uploads"):
        await world.service.create_upload(alice, declare(1))
    assert len(file_items_of(world.items)) == 3

    world.clock.advance(PENDING_TTL)  # the three expire unfinished: room for new ones
    await world.service.create_upload(alice, declare(1))
    usage = await world.service.repository.usage(alice.user_id)
    assert usage == Usage(alice.user_id, used_bytes=1, pending_uploads=1)


async def test_completing_moves_the_reservation_into_ready_bytes(world: World) -> None:
    alice = await world.user("alice")
    record: FileRecord = await world.ready(alice, b"x" * 25)
    usage = await world.service.repository.usage(alice.user_id)
    assert usage == Usage(alice.user_id, used_bytes=25, pending_uploads=0)
    assert await reserved_ids(world, alice.user_id) == set()
    # Completing again must not count the bytes twice.
    await world.service.complete_upload(alice, record.id)
    assert await world.service.repository.usage(alice.user_id) == usage


async def test_a_refused_reservation_is_a_quota_error_never_a_conflict(world: World) -> None:
    """Whatever the store refuses on createUpload is the user's limit: the file id is new,
    so no other condition can fail, and nothing is retried."""
    alice = await world.user("alice")
    real_write = world.store.inner.write

    async def always_refusing(ops: object) -> None:
        raise ConflictError("bound")

    world.store.inner.write = always_refusing  # type: ignore[method-assign]
    with pytest.raises(InvalidInputError, match="quota exceeded"):
        await world.service.create_upload(alice, declare(1))
    world.store.inner.write = real_write  # type: ignore[method-assign]
    assert world.store.calls["write"] == 1
