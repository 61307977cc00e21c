"""createUpload's target, completeUpload's checks of the stored bytes, the store-event
path, and download URLs."""

import asyncio
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.blobs.memory import InMemoryBlobStore
from domain.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from domain.files import NewFile
from domain.files import uploads as file_uploads
from domain.models import FileStatus, Visibility
from tests.support.file_world import (
    PENDING_TTL,
    T0,
    UPLOAD_EXPIRY,
    World,
    expire_items,
    make_world,
    sha256_hex,
)

DATA = b"%PDF-1.7 pretend\n"


@pytest.fixture
def world() -> World:
    return make_world()


def declare(data: bytes = DATA, **overrides: object) -> NewFile:
    fields: dict[str, object] = {
        "name": "report.pdf",
        "content_type": "application/pdf",
        "size": len(data),
    }
    return NewFile(**(fields | overrides))  # type: ignore[arg-type]


async def test_create_upload_returns_a_target_the_store_enforces(world: World) -> None:
    alice = await world.user("alice")
    record, target = await world.service.create_upload(alice, declare(sha256=sha256_hex(DATA)))
    assert target is not None

    assert target.method == "PUT"
    assert target.url.startswith(f"memory://upload/{record.blob_key}?")
    assert target.headers["Content-Type"] == "application/pdf"
    assert target.expires_at == T0 + timedelta(seconds=UPLOAD_EXPIRY)
    with pytest.raises(InvalidInputError):  # the store itself refuses other bytes
        world.blobs.receive_upload(target.url, DATA.upper(), target.headers)
    world.blobs.receive_upload(target.url, DATA, target.headers)
    assert (await world.blobs.head(record.blob_key)) is not None


async def test_complete_without_bytes_is_refused_and_the_file_stays_pending(world: World) -> None:
    alice = await world.user("alice")
    record, _ = await world.service.create_upload(alice, declare())
    with pytest.raises(InvalidInputError, match="No bytes uploaded yet"):
        await world.service.complete_upload(alice, record.id)
    assert await world.service.get_file(alice, record.id) == record


@pytest.mark.parametrize(
    ("stored", "content_type", "problem"),
    [
        (DATA + b"!", "application/pdf", "size"),
        (DATA, "text/plain", "content type"),
        (DATA[:-1] + b"?", "application/pdf", "SHA-256"),
    ],
    ids=["size", "type", "sha256"],
)
async def test_mismatching_bytes_are_refused_removed_and_the_file_stays_pending(
    world: World, stored: bytes, content_type: str, problem: str
) -> None:
    alice = await world.user("alice")
    record, target = await world.service.create_upload(alice, declare(sha256=sha256_hex(DATA)))
    assert target is not None
    world.blobs.put_object(record.blob_key, stored, content_type)

    with pytest.raises(InvalidInputError, match=problem):
        await world.service.complete_upload(alice, record.id)

    assert (await world.service.get_file(alice, record.id)).status is FileStatus.PENDING
    assert await world.blobs.head(record.blob_key) is None
    # The same target still works for a second, correct attempt.
    world.blobs.receive_upload(target.url, DATA, target.headers)
    assert (await world.service.complete_upload(alice, record.id)).status is FileStatus.READY


async def test_complete_makes_the_file_ready(world: World) -> None:
    alice = await world.user("alice")
    record, target = await world.service.create_upload(alice, declare())
    assert target is not None
    world.blobs.receive_upload(target.url, DATA, target.headers)
    world.clock.advance(5)

    ready = await world.service.complete_upload(alice, record.id)

    assert ready.status is FileStatus.READY
    assert (ready.version, ready.expires_at) == (2, None)
    assert ready.sha256 == sha256_hex(DATA)  # learnt from the store: none was declared
    assert ready.updated_at == T0 + timedelta(seconds=5)
    assert await world.service.get_file(alice, record.id) == ready


async def test_complete_is_idempotent(world: World) -> None:
    alice = await world.user("alice")
    ready = await world.ready(alice, DATA)
    assert await world.service.complete_upload(alice, ready.id) == ready
    assert (await world.service.get_file(alice, ready.id)).version == 2


async def test_a_ready_file_survives_the_ttl_sweeper(world: World) -> None:
    alice, bob = await world.user("alice"), await world.user("bob")
    record, target = await world.service.create_upload(alice, declare())
    assert target is not None
    await world.service.share_file(alice, record.id, "bob")
    world.blobs.receive_upload(target.url, DATA, target.headers)
    await world.service.complete_upload(alice, record.id)

    world.clock.advance(PENDING_TTL * 2)
    expire_items(world.items, world.clock())

    assert (await world.service.get_file(alice, record.id)).status is FileStatus.READY
    shared = await world.service.list_shared_with_me(bob, first=10)
    assert [file.id for file in shared.records] == [record.id]


async def test_an_unfinished_upload_expires(world: World) -> None:
    alice, bob = await world.user("alice"), await world.user("bob")
    record, target = await world.service.create_upload(alice, declare())
    assert target is not None
    await world.service.share_file(alice, record.id, "bob")
    world.blobs.receive_upload(target.url, DATA, target.headers)
    world.clock.advance(PENDING_TTL)

    with pytest.raises(InvalidInputError, match="expired"):
        await world.service.complete_upload(alice, record.id)
    with pytest.raises(NotFoundError):
        await world.service.complete_upload(bob, record.id)
    with pytest.raises(NotFoundError):
        await world.service.get_file(alice, record.id)
    assert (await world.service.list_files_of(alice, alice.user_id, first=10)).records == []
    assert (await world.service.list_shared_with_me(bob, first=10)).records == []
    expire_items(world.items, world.clock())
    assert world.items.items.keys() == {
        key for key in world.items.items if not key[0].startswith("FILE#")
    }


async def test_only_the_owner_or_an_admin_completes(world: World) -> None:
    alice, bob = await world.user("alice"), await world.user("bob")
    admin = await world.user("root", admin=True)
    private, target = await world.service.create_upload(alice, declare())
    assert target is not None
    world.blobs.receive_upload(target.url, DATA, target.headers)
    public = await world.pending(alice, visibility=Visibility.PUBLIC)

    with pytest.raises(NotFoundError) as unreadable:
        await world.service.complete_upload(bob, private.id)
    with pytest.raises(NotFoundError) as missing:
        await world.service.complete_upload(bob, "no-such-file")
    assert str(unreadable.value) == str(missing.value)
    with pytest.raises(ForbiddenError):
        await world.service.complete_upload(bob, public.id)
    assert (await world.service.complete_upload(admin, private.id)).status is FileStatus.READY


async def test_a_store_event_completes_the_upload(world: World) -> None:
    alice = await world.user("alice")
    record, target = await world.service.create_upload(alice, declare())
    assert target is not None
    world.blobs.receive_upload(target.url, DATA, target.headers)

    completed = await world.service.complete_upload_from_store_event(record.blob_key)

    assert completed is not None and completed.status is FileStatus.READY
    assert await world.service.complete_upload(alice, record.id) == completed
    assert await world.service.complete_upload_from_store_event(record.blob_key) == completed


@pytest.mark.parametrize("key", ["files/unknown/blob", "other/thing", "files/a/b/blob", ""])
async def test_store_events_for_unknown_keys_are_ignored(world: World, key: str) -> None:
    assert await world.service.complete_upload_from_store_event(key) is None


async def test_a_store_event_for_mismatching_bytes_leaves_the_file_pending(world: World) -> None:
    alice = await world.user("alice")
    record, _ = await world.service.create_upload(alice, declare())
    world.blobs.put_object(record.blob_key, DATA + b"extra", "application/pdf")
    assert await world.service.complete_upload_from_store_event(record.blob_key) is None
    assert (await world.service.get_file(alice, record.id)).status is FileStatus.PENDING


async def test_racing_completions_count_the_bytes_once() -> None:
    world = make_world(interleaving=True)
    alice = await world.user("alice")
    record, target = await world.service.create_upload(alice, declare())
    assert target is not None
    world.blobs.receive_upload(target.url, DATA, target.headers)

    by_user, by_event = await asyncio.gather(
        world.service.complete_upload(alice, record.id),
        world.service.complete_upload_from_store_event(record.blob_key),
    )

    assert by_user == by_event
    assert by_user.version == 2
    usage = await world.service.repository.usage(alice.user_id)
    assert (usage.used_bytes, usage.pending_uploads) == (len(DATA), 0)


# --- download URLs ----------------------------------------------------------------------


def url_query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


async def test_no_download_url_while_pending(world: World) -> None:
    alice = await world.user("alice")
    assert await world.service.download_url(alice, await world.pending(alice)) is None


async def test_the_download_url_serves_the_bytes_under_the_file_name(world: World) -> None:
    alice = await world.user("alice")
    ready = await world.ready(alice, DATA, name="Résumé final.pdf")

    url = await world.service.download_url(alice, ready)

    assert url is not None
    assert url_query(url)["expires"] == [str(int(T0.timestamp()) + 300)]
    blob, disposition = world.blobs.open_download(url)
    assert blob.data == DATA
    assert "filename*=UTF-8''R%C3%A9sum%C3%A9%20final.pdf" in disposition


@pytest.mark.parametrize(("expires_in", "ok"), [(1, True), (3600, True), (0, False), (3601, False)])
async def test_download_expiry_is_bounded(world: World, expires_in: int, ok: bool) -> None:
    alice = await world.user("alice")
    ready = await world.ready(alice, DATA)
    if ok:
        url = await world.service.download_url(alice, ready, expires_in)
        assert url is not None
        assert url_query(url)["expires"] == [str(int(T0.timestamp()) + expires_in)]
    else:
        with pytest.raises(InvalidInputError, match="expiresIn"):
            await world.service.download_url(alice, ready, expires_in)


async def test_only_readers_get_a_download_url(world: World) -> None:
    alice, bob, carol = (
        await world.user("alice"),
        await world.user("bob"),
        await world.user("carol"),
    )
    ready = await world.ready(alice, DATA)
    with pytest.raises(NotFoundError):
        await world.service.download_url(bob, ready)
    shared = await world.service.share_file(alice, ready.id, "bob")
    assert await world.service.download_url(bob, shared) is not None
    with pytest.raises(NotFoundError):
        await world.service.download_url(carol, shared)
    public = await world.service.update_file(alice, ready.id, visibility=Visibility.PUBLIC)
    assert await world.service.download_url(carol, public) is not None


class _SwapBeforeCopy(InMemoryBlobStore):
    """A client's second upload landing at the upload key just before the server copies
    it: S3 cannot refuse it while the upload URL is valid."""

    swapped = DATA.upper()

    async def copy(self, source_key: str, dest_key: str) -> None:
        await asyncio.sleep(0)
        self.put_object(source_key, self.swapped, "application/pdf")
        await super().copy(source_key, dest_key)


async def _served(world: World, key: str) -> bytes:
    return b"".join([chunk async for chunk in world.blobs.read(key)])


async def test_bytes_swapped_before_the_copy_are_the_ones_checked_and_recorded() -> None:
    world = make_world(blob_store=_SwapBeforeCopy)
    alice = await world.user("alice")
    record, target = await world.service.create_upload(alice, declare())
    assert target is not None
    world.blobs.receive_upload(target.url, DATA, target.headers)

    ready = await world.service.complete_upload(alice, record.id)

    assert ready.blob_key != record.blob_key
    assert await _served(world, ready.blob_key) == _SwapBeforeCopy.swapped
    assert ready.sha256 == sha256_hex(_SwapBeforeCopy.swapped)
    assert set(world.blobs.objects) == {ready.blob_key}


async def test_racing_completions_keep_one_copy_whose_bytes_match_the_recorded_hash() -> None:
    world = make_world(interleaving=True, blob_store=_SwapBeforeCopy)
    alice = await world.user("alice")
    record, target = await world.service.create_upload(alice, declare())
    assert target is not None
    world.blobs.receive_upload(target.url, DATA, target.headers)

    # The client's completeUpload and the store's event for the same upload, at once.
    by_client, by_event = await asyncio.gather(
        world.service.complete_upload(alice, record.id),
        world.service.complete_upload_from_store_event(record.blob_key),
    )

    assert by_event is not None and by_client.blob_key == by_event.blob_key
    saved = await world.service.get_file(alice, record.id)
    assert saved.status is FileStatus.READY and saved.blob_key == by_client.blob_key
    assert saved.sha256 == sha256_hex(await _served(world, saved.blob_key))
    # The losing copy and the upload itself are gone: only the READY bytes remain.
    assert set(world.blobs.objects) == {saved.blob_key}


async def test_a_conflict_after_the_ready_save_keeps_the_ready_bytes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the save's own conflict means another completion won: one raised by a later
    step (indexing here) must not take the bytes of a file already saved READY."""

    async def conflicting_index(deps: object, ready: object) -> None:
        raise ConflictError("the index was being changed")

    monkeypatch.setattr(file_uploads, "index_new_for_search", conflicting_index)
    alice = await world.user("alice")
    record, target = await world.service.create_upload(alice, declare())
    assert target is not None
    world.blobs.receive_upload(target.url, DATA, target.headers)

    # The completion looks again, finds the file READY and answers it.
    ready = await world.service.complete_upload(alice, record.id)

    assert ready.status is FileStatus.READY
    assert await world.service.get_file(alice, record.id) == ready
    assert await _served(world, ready.blob_key) == DATA
