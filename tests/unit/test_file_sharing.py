"""shareFile/unshareFile and the read rules of domain/access.py as users meet them."""

import pytest

from domain.access import may_change_file, may_read_file, visible_shares
from domain.errors import ForbiddenError, InvalidInputError, NotFoundError
from domain.models import Visibility
from tests.support.file_world import World, make_world


@pytest.fixture
def world() -> World:
    return make_world(max_shares_per_file=2)


async def test_sharing_lets_that_user_read_the_file(world: World) -> None:
    alice, bob = await world.user("alice"), await world.user("bob")
    carol = await world.user("carol")
    file = await world.ready(alice)
    with pytest.raises(NotFoundError):
        await world.service.get_file(bob, file.id)

    shared = await world.service.share_file(alice, file.id, "BOB")  # usernames ignore case

    assert shared.shared_with == (bob.user_id,)
    assert shared.version == file.version + 1
    assert await world.service.get_file(bob, file.id) == shared
    with pytest.raises(NotFoundError):
        await world.service.get_file(carol, file.id)


async def test_sharing_twice_changes_nothing(world: World) -> None:
    alice = await world.user("alice")
    await world.user("bob")
    file = await world.ready(alice)
    once = await world.service.share_file(alice, file.id, "bob")
    assert await world.service.share_file(alice, file.id, "bob") == once


@pytest.mark.parametrize(
    ("username", "message"),
    [("alice", "yourself"), ("nobody", "no user named"), ("", "no user named")],
)
async def test_sharing_with_yourself_or_an_unknown_user_is_refused(
    world: World, username: str, message: str
) -> None:
    alice = await world.user("alice")
    file = await world.ready(alice)
    with pytest.raises(InvalidInputError, match=f"(?i){message}"):
        await world.service.share_file(alice, file.id, username)
    assert await world.service.get_file(alice, file.id) == file


async def test_an_admin_cannot_share_a_file_with_its_owner(world: World) -> None:
    alice = await world.user("alice")
    admin = await world.user("root", admin=True)
    file = await world.ready(alice)
    with pytest.raises(InvalidInputError, match="owner"):
        await world.service.share_file(admin, file.id, "alice")


async def test_shares_per_file_are_capped(world: World) -> None:
    alice = await world.user("alice")
    for name in ("bob", "carol", "dave"):
        await world.user(name)
    file = await world.ready(alice)
    await world.service.share_file(alice, file.id, "bob")
    await world.service.share_file(alice, file.id, "carol")
    with pytest.raises(InvalidInputError, match="at most 2"):
        await world.service.share_file(alice, file.id, "dave")


async def test_unsharing_takes_access_away_and_is_idempotent(world: World) -> None:
    alice, bob = await world.user("alice"), await world.user("bob")
    await world.user("carol")
    file = await world.ready(alice)
    await world.service.share_file(alice, file.id, "bob")

    unshared = await world.service.unshare_file(alice, file.id, "bob")

    assert unshared.shared_with == ()
    with pytest.raises(NotFoundError):
        await world.service.get_file(bob, file.id)
    assert (await world.service.list_shared_with_me(bob, first=10)).records == []
    assert await world.service.unshare_file(alice, file.id, "bob") == unshared
    assert await world.service.unshare_file(alice, file.id, "carol") == unshared
    with pytest.raises(InvalidInputError, match="no user named"):
        await world.service.unshare_file(alice, file.id, "nobody")


async def test_only_the_owner_or_an_admin_shares(world: World) -> None:
    alice, bob = await world.user("alice"), await world.user("bob")
    await world.user("carol")
    admin = await world.user("root", admin=True)
    file = await world.ready(alice)

    # An outsider learns nothing, not even whether the username exists.
    for username in ("carol", "nobody"):
        with pytest.raises(NotFoundError):
            await world.service.share_file(bob, file.id, username)
    await world.service.share_file(admin, file.id, "bob")
    with pytest.raises(ForbiddenError):  # bob reads it now, but may not re-share it
        await world.service.share_file(bob, file.id, "carol")
    with pytest.raises(ForbiddenError):
        await world.service.unshare_file(bob, file.id, "bob")
    assert (await world.service.unshare_file(admin, file.id, "bob")).shared_with == ()


async def test_an_unreadable_file_looks_exactly_like_a_missing_one(world: World) -> None:
    alice, bob = await world.user("alice"), await world.user("bob")
    file = await world.ready(alice)
    outcomes = []
    for file_id in (file.id, "f" * 32, "not a valid id #1"):
        with pytest.raises(Exception) as raised:
            await world.service.get_file(bob, file_id)
        outcomes.append((type(raised.value), str(raised.value)))
    assert outcomes == [(NotFoundError, "File not found")] * 3
    assert await world.service.readable_files(bob, [file.id, "f" * 32]) == [None, None]


async def test_public_files_are_readable_by_everyone_but_changeable_by_the_owner(
    world: World,
) -> None:
    alice, bob = await world.user("alice"), await world.user("bob")
    file = await world.ready(alice, visibility=Visibility.PUBLIC)
    assert await world.service.get_file(bob, file.id) == file
    assert await world.service.readable_files(bob, [file.id]) == [file]
    with pytest.raises(ForbiddenError):
        await world.service.delete_file(bob, file.id)


async def test_an_admin_reads_and_changes_everything(world: World) -> None:
    alice = await world.user("alice")
    await world.user("bob")
    admin = await world.user("root", admin=True)
    file = await world.ready(alice)
    assert await world.service.get_file(admin, file.id) == file
    shared = await world.service.share_file(admin, file.id, "bob")
    assert visible_shares(admin, shared) == shared.shared_with
    updated = await world.service.update_file(admin, file.id, visibility=Visibility.PUBLIC)
    assert updated.visibility is Visibility.PUBLIC
    assert await world.service.delete_file(admin, file.id) == file.id


async def test_only_the_owner_and_admins_see_who_a_file_is_shared_with(world: World) -> None:
    alice, bob = await world.user("alice"), await world.user("bob")
    admin = await world.user("root", admin=True)
    file = await world.service.share_file(alice, (await world.ready(alice)).id, "bob")
    assert visible_shares(alice, file) == (bob.user_id,)
    assert visible_shares(admin, file) == (bob.user_id,)
    assert visible_shares(bob, file) == ()
    assert may_read_file(bob, file) and not may_change_file(bob, file)
