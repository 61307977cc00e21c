"""Share links in the domain, over the in-memory stores and a fake clock: who may make and
revoke them, what a followed link answers as time passes and downloads are used up, and
that the store never holds a token."""

import asyncio
import hashlib
import json
from datetime import UTC, datetime

import pytest

from domain.errors import ForbiddenError, InvalidInputError, NotFoundError
from domain.events import FileEvent, FileEventKind
from domain.files import FileService, ShareLink
from domain.models import Visibility
from tests.support.file_world import Ids, World, expire_items, make_world
from tests.support.stores import CountingItemStore

DAY = 86_400


@pytest.fixture
def world() -> World:
    return make_world(max_share_links_per_file=3)


def _stored_text(world: World) -> str:
    return json.dumps(list(world.items.items.values()), default=str)


async def _follow(world: World, token: str) -> bytes | None:
    url = await world.service.follow_share_link(token)
    if url is None:
        return None
    blob, _ = world.blobs.open_download(url)
    return blob.data


async def test_a_link_serves_the_bytes_to_anyone_and_counts_each_download(world: World) -> None:
    alice = await world.user("alice")
    file = await world.ready(alice, b"holiday photos")

    link, token = await world.service.create_share_link(alice, file.id)

    assert len(token) == 43  # 32 random bytes, URL-safe base64
    assert link.expires_at == int(world.clock().timestamp()) + 7 * DAY
    assert await _follow(world, token) == b"holiday photos"
    assert await _follow(world, token) == b"holiday photos"
    [listed] = await world.service.share_links(alice, await world.service.get_file(alice, file.id))
    assert (listed.id, listed.downloads, listed.max_downloads) == (link.id, 2, None)


async def test_the_store_keeps_only_the_tokens_hash(world: World) -> None:
    alice = await world.user("alice")
    file = await world.ready(alice)
    _, token = await world.service.create_share_link(alice, file.id)
    stored = _stored_text(world)
    assert token not in stored
    assert hashlib.sha256(token.encode()).hexdigest() in stored


async def test_a_link_stops_at_its_expiry_and_at_max_downloads(world: World) -> None:
    alice = await world.user("alice")
    file = await world.ready(alice)
    _, short = await world.service.create_share_link(alice, file.id, expires_in=60)
    _, twice = await world.service.create_share_link(alice, file.id, max_downloads=2)

    assert await _follow(world, twice) is not None
    assert await _follow(world, twice) is not None
    assert await _follow(world, twice) is None  # used up
    assert await _follow(world, short) is not None
    world.clock.advance(60)
    assert await _follow(world, short) is None
    expire_items(world.items, world.clock())  # and once the TTL removed it, still nothing
    assert await _follow(world, short) is None


async def test_concurrent_downloads_never_pass_max_downloads() -> None:
    world = make_world(interleaving=True)
    alice = await world.user("alice")
    file = await world.ready(alice)
    _, token = await world.service.create_share_link(alice, file.id, max_downloads=3)
    urls = await asyncio.gather(*(world.service.follow_share_link(token) for _ in range(10)))
    assert sum(url is not None for url in urls) == 3


async def test_revoking_or_deleting_the_file_ends_the_link_and_leaves_no_items(
    world: World,
) -> None:
    alice = await world.user("alice")
    file = await world.ready(alice)
    kept, kept_token = await world.service.create_share_link(alice, file.id)
    gone, gone_token = await world.service.create_share_link(alice, file.id)

    await world.service.revoke_share_link(alice, file.id, gone.id)
    assert await _follow(world, gone_token) is None
    assert await _follow(world, kept_token) is not None
    with pytest.raises(NotFoundError, match="Share link not found"):
        await world.service.revoke_share_link(alice, file.id, gone.id)

    await world.service.delete_file(alice, file.id)
    assert await _follow(world, kept_token) is None
    assert world.items.items == {
        key: item for key, item in world.items.items.items() if "LINK" not in key[1]
    }
    assert kept.token_sha256 not in _stored_text(world)


async def test_expired_links_are_pruned_and_live_ones_capped(world: World) -> None:
    alice = await world.user("alice")
    file = await world.ready(alice)
    for _ in range(3):
        await world.service.create_share_link(alice, file.id, expires_in=60)
    with pytest.raises(InvalidInputError, match="at most 3 share links"):
        await world.service.create_share_link(alice, file.id)
    world.clock.advance(61)
    link, _ = await world.service.create_share_link(alice, file.id)
    stored = [item for key, item in world.items.items.items() if key[1].startswith("LINK#")]
    assert [item["id"] for item in stored] == [link.id]


@pytest.mark.parametrize("expires_in", [59, 30 * DAY + 1, 0, -60])
async def test_expiry_outside_a_minute_to_30_days_is_refused(world: World, expires_in: int) -> None:
    alice = await world.user("alice")
    file = await world.ready(alice)
    before = dict(world.items.items)
    with pytest.raises(InvalidInputError, match="expiresIn"):
        await world.service.create_share_link(alice, file.id, expires_in=expires_in)
    with pytest.raises(InvalidInputError, match="maxDownloads"):
        await world.service.create_share_link(alice, file.id, max_downloads=0)
    assert world.items.items == before


async def test_only_the_owner_or_an_admin_may_link_a_ready_file(world: World) -> None:
    alice, bob = await world.user("alice"), await world.user("bob")
    admin = await world.user("root", admin=True)
    private = await world.ready(alice)
    public = await world.ready(alice, visibility=Visibility.PUBLIC)
    pending = await world.pending(alice)
    before = dict(world.items.items)

    with pytest.raises(NotFoundError):
        await world.service.create_share_link(bob, private.id)
    with pytest.raises(ForbiddenError):
        await world.service.create_share_link(bob, public.id)
    with pytest.raises(InvalidInputError, match="READY"):
        await world.service.create_share_link(alice, pending.id)
    assert world.items.items == before

    link, _ = await world.service.create_share_link(admin, private.id)
    assert await world.service.share_links(bob, public) == []
    readable = await world.service.get_file(alice, private.id)
    assert [x.id for x in await world.service.share_links(admin, readable)] == [link.id]
    with pytest.raises(NotFoundError, match="Share link not found"):
        await world.service.revoke_share_link(bob, private.id, link.id)


@pytest.mark.parametrize("token", ["", "short", "a" * 42, "a" * 44, "../" + "a" * 40, "é" * 43])
async def test_malformed_tokens_find_nothing(world: World, token: str) -> None:
    assert isinstance(world.store, CountingItemStore)
    assert await world.service.follow_share_link(token) is None
    assert sum(world.store.calls.values()) == 0  # refused before any store call


def test_a_link_works_until_its_expiry_and_its_cap() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    link = ShareLink("l", "f", "h", now, int(now.timestamp()) + 60, 1, 2)
    assert link.works_at(now)
    assert not ShareLink("l", "f", "h", now, int(now.timestamp()), 0, None).works_at(now)
    assert not ShareLink("l", "f", "h", now, int(now.timestamp()) + 60, 2, 2).works_at(now)


class _Recorder:
    def __init__(self) -> None:
        self.events: list[FileEvent] = []

    async def publish(self, event: FileEvent) -> None:
        self.events.append(event)


async def test_making_and_revoking_a_link_is_an_update_followers_hear_of(world: World) -> None:
    recorder = _Recorder()
    service = FileService(
        items=world.store,
        blobs=world.blobs,
        clock=world.clock,
        id_factory=Ids(),
        limits=world.service.limits,
        events=recorder,
    )
    alice = await world.user("alice")
    file = await world.ready(alice)
    link, _ = await service.create_share_link(alice, file.id)
    await service.revoke_share_link(alice, file.id, link.id)
    assert [(e.kind, e.version) for e in recorder.events] == [
        (FileEventKind.UPDATED, file.version + 1),
        (FileEventKind.UPDATED, file.version + 2),
    ]
    assert (await service.get_file(alice, file.id)).version == file.version + 2
