"""updateFile and deleteFile: validation, optimistic concurrency, who may, what is left."""

import asyncio
import logging
from datetime import timedelta

import pytest

from adapters.blobs.memory import InMemoryBlobStore
from domain.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
)
from domain.files import UNSET
from domain.models import Visibility
from tests.support.file_world import T0, World, file_items_of, make_world


@pytest.fixture
def world() -> World:
    return make_world(quota_bytes=100)


async def test_update_changes_only_the_given_fields(world: World) -> None:
    alice = await world.user("alice")
    before = await world.ready(alice, description="old", tags=["a"])
    world.clock.advance(60)

    after = await world.service.update_file(
        alice, before.id, name="Cafe\u0301.txt", tags=["B", "b", " c "]
    )

    assert (after.name, after.tags, after.description) == ("Café.txt", ("b", "c"), "old")
    assert (after.version, after.updated_at) == (before.version + 1, T0 + timedelta(seconds=60))
    assert (after.visibility, after.created_at) == (before.visibility, before.created_at)
    assert await world.service.get_file(alice, before.id) == after


async def test_null_clears_description_and_tags_but_not_name_or_visibility(world: World) -> None:
    alice = await world.user("alice")
    before = await world.ready(alice, description="old", tags=["a"])
    after = await world.service.update_file(
        alice, before.id, name=None, description=None, tags=None, visibility=None
    )
    assert (after.name, after.visibility) == (before.name, before.visibility)
    assert (after.description, after.tags) == (None, ())


async def test_an_update_that_changes_nothing_keeps_the_version(world: World) -> None:
    alice = await world.user("alice")
    before = await world.ready(alice, tags=["a"])
    same = await world.service.update_file(alice, before.id, name=before.name, tags=["A"])
    assert same == before
    assert await world.service.update_file(alice, before.id, description=UNSET) == before


@pytest.mark.parametrize(
    "changes",
    [{"name": "a/b"}, {"name": ""}, {"tags": ["x" * 51]}, {"description": "x" * 2001}],
    ids=["name-slash", "name-empty", "tag", "description"],
)
async def test_an_invalid_update_changes_nothing(world: World, changes: dict[str, object]) -> None:
    alice = await world.user("alice")
    before = await world.ready(alice)
    with pytest.raises(InvalidInputError):
        await world.service.update_file(alice, before.id, **changes)  # type: ignore[arg-type]
    assert await world.service.get_file(alice, before.id) == before


async def test_a_stale_expected_version_is_a_conflict_and_changes_nothing(world: World) -> None:
    alice = await world.user("alice")
    v2 = await world.ready(alice)
    v3 = await world.service.update_file(alice, v2.id, expected_version=2, name="first.txt")
    with pytest.raises(ConflictError, match="version"):
        await world.service.update_file(alice, v2.id, expected_version=2, name="second.txt")
    assert await world.service.get_file(alice, v2.id) == v3


async def test_of_two_concurrent_updates_with_one_expected_version_exactly_one_wins() -> None:
    world = make_world(interleaving=True)
    alice = await world.user("alice")
    file = await world.ready(alice)

    results = await asyncio.gather(
        world.service.update_file(alice, file.id, expected_version=file.version, name="A.txt"),
        world.service.update_file(alice, file.id, expected_version=file.version, name="B.txt"),
        return_exceptions=True,
    )

    winners = [result for result in results if not isinstance(result, BaseException)]
    losers = [result for result in results if isinstance(result, ConflictError)]
    assert (len(winners), len(losers)) == (1, 1), results
    stored = await world.service.get_file(alice, file.id)
    assert stored == winners[0] and stored.version == file.version + 1


async def test_concurrent_updates_without_expected_version_lose_nothing() -> None:
    world = make_world(interleaving=True)
    alice = await world.user("alice")
    file = await world.ready(alice)

    await asyncio.gather(
        world.service.update_file(alice, file.id, name="renamed.txt"),
        world.service.update_file(alice, file.id, description="described"),
        world.service.update_file(alice, file.id, tags=["tagged"]),
    )

    stored = await world.service.get_file(alice, file.id)
    assert (stored.name, stored.description, stored.tags) == (
        "renamed.txt",
        "described",
        ("tagged",),
    )
    assert stored.version == file.version + 3


async def test_who_may_update(world: World) -> None:
    alice, bob = await world.user("alice"), await world.user("bob")
    admin = await world.user("root", admin=True)
    private = await world.ready(alice)
    public = await world.ready(alice, visibility=Visibility.PUBLIC)

    with pytest.raises(NotFoundError) as unreadable:
        await world.service.update_file(bob, private.id, name="x.txt")
    with pytest.raises(NotFoundError) as missing:
        await world.service.update_file(bob, "nope", name="x.txt")
    assert (type(unreadable.value), str(unreadable.value)) == (
        type(missing.value),
        str(missing.value),
    )
    with pytest.raises(ForbiddenError):
        await world.service.update_file(bob, public.id, name="x.txt")
    changed = await world.service.update_file(admin, private.id, name="by-admin.txt")
    assert changed.name == "by-admin.txt" and changed.owner_id == alice.user_id


# --- delete -----------------------------------------------------------------------------


async def test_delete_removes_meta_shares_and_bytes_and_frees_the_quota(world: World) -> None:
    alice, bob = await world.user("alice"), await world.user("bob")
    file = await world.ready(alice, b"x" * 100)
    await world.service.share_file(alice, file.id, "bob")

    assert await world.service.delete_file(alice, file.id) == file.id

    with pytest.raises(NotFoundError):
        await world.service.get_file(alice, file.id)
    assert file_items_of(world.items) == []
    assert (await world.service.list_shared_with_me(bob, first=10)).records == []
    assert await world.blobs.head(file.blob_key) is None
    assert (await world.service.repository.usage(alice.user_id)).used_bytes == 0
    await world.ready(alice, b"y" * 100)  # the whole quota is free again


async def test_deleting_a_pending_file_releases_its_reservation(world: World) -> None:
    alice = await world.user("alice")
    pending = await world.pending(alice, b"x" * 100)
    await world.service.delete_file(alice, pending.id)
    usage = await world.service.repository.usage(alice.user_id)
    assert (usage.used_bytes, usage.pending_uploads) == (0, 0)
    assert await world.service.repository.reservations(alice.user_id) == []


async def test_delete_with_a_stale_version_is_a_conflict_and_keeps_the_file(world: World) -> None:
    alice = await world.user("alice")
    file = await world.ready(alice)
    await world.service.update_file(alice, file.id, name="new.txt")
    with pytest.raises(ConflictError):
        await world.service.delete_file(alice, file.id, expected_version=file.version)
    assert (await world.service.get_file(alice, file.id)).name == "new.txt"
    assert await world.blobs.head(file.blob_key) is not None
    assert await world.service.delete_file(alice, file.id, expected_version=file.version + 1)


async def test_who_may_delete(world: World) -> None:
    alice, bob = await world.user("alice"), await world.user("bob")
    admin = await world.user("root", admin=True)
    file = await world.ready(alice)
    shared = await world.service.share_file(alice, file.id, "bob")
    with pytest.raises(ForbiddenError):
        await world.service.delete_file(bob, shared.id)
    assert await world.service.delete_file(admin, file.id) == file.id
    with pytest.raises(NotFoundError):
        await world.service.delete_file(alice, file.id)


class FlakyDeletes(InMemoryBlobStore):
    failing = False

    async def delete(self, key: str) -> None:
        if self.failing:
            raise StoreUnavailableError("Blob storage is unavailable")
        await super().delete(key)


async def test_a_failed_blob_delete_is_logged_and_the_file_stays_deleted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = make_world(blob_store=FlakyDeletes)
    assert isinstance(world.blobs, FlakyDeletes)
    alice = await world.user("alice")
    file = await world.ready(alice)
    world.blobs.failing = True

    with caplog.at_level(logging.WARNING):
        assert await world.service.delete_file(alice, file.id) == file.id

    assert "left for the sweeper" in caplog.text
    with pytest.raises(NotFoundError):
        await world.service.get_file(alice, file.id)
    assert file_items_of(world.items) == []
    assert file.blob_key in world.blobs.objects  # only the bytes remain, for the sweeper
