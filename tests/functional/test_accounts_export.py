"""exportMyData through the real schema over the in-memory stores: the archive holds every
file the viewer owns (bytes and a manifest with shares and SHA-256s) and nothing else,
only its owner gets its URL, a second call returns the same export, and it expires."""

import asyncio
import hashlib
import io
import json
import tarfile
from collections.abc import AsyncIterator
from typing import Any

from adapters.blobs.memory import READ_CHUNK_BYTES, InMemoryBlobStore
from domain.accounts import DataExports
from domain.accounts.archive import ArchivedFile, archive_path, tar_stream
from domain.ids import from_global_id
from domain.users import UserRepository
from tests.support.schema_client import ALICE, BOB, SchemaClient

EXPORT = "mutation { exportMyData { id status url expiresAt } }"
SHARE = "mutation($id: ID!, $u: String!) { shareFile(id: $id, username: $u) { id } }"
BIG = bytes(range(256)) * 4096  # 1 MiB, many read chunks


async def export(client: SchemaClient, who: Any) -> dict[str, Any]:
    result = await client.execute(EXPORT, who)
    assert result.errors == [], result.errors
    answer: dict[str, Any] = result.data["exportMyData"]
    return answer


def archive(client: SchemaClient, url: str) -> dict[str, bytes]:
    blob, disposition = client.blobs.open_download(url)
    assert "attachment" in disposition
    with tarfile.open(fileobj=io.BytesIO(blob.data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


async def test_the_archive_holds_exactly_the_viewers_files_and_a_manifest() -> None:
    client = SchemaClient()
    for who in (ALICE, BOB):
        await client.sign_in(who)
    notes = await client.upload(ALICE, b"alice notes", name="notes.txt")
    big = await client.upload(ALICE, BIG, name="big.bin", contentType="application/octet-stream")
    assert (await client.execute(SHARE, ALICE, {"id": notes["id"], "u": "bob"})).errors == []
    await client.create_upload(ALICE, b"not sent yet", name="pending.txt")
    await client.upload(BOB, b"bob's own", name="bob.txt")

    first = await export(client, ALICE)
    assert first["status"] == "READY" and first["url"] and first["expiresAt"]
    entries = archive(client, first["url"])
    notes_id, big_id = (from_global_id(f["id"])[1] for f in (notes, big))
    assert entries[f"files/{notes_id}/notes.txt"] == b"alice notes"
    assert entries[f"files/{big_id}/big.bin"] == BIG
    assert set(entries) == {
        f"files/{notes_id}/notes.txt",
        f"files/{big_id}/big.bin",
        "manifest.json",
    }
    manifest = json.loads(entries["manifest.json"])
    assert manifest["user"]["username"] == "alice"
    by_name = {f["name"]: f for f in manifest["files"]}
    assert by_name["notes.txt"]["sha256"] == hashlib.sha256(b"alice notes").hexdigest()
    assert by_name["big.bin"]["sha256"] == hashlib.sha256(BIG).hexdigest()
    assert by_name["notes.txt"]["sharedWith"] == [{"id": BOB.user_id, "username": "bob"}]

    # Asking again returns the same export, with a URL of its own.
    again = await export(client, ALICE)
    assert (again["id"], again["status"]) == (first["id"], "READY")
    # Bob's export is his alone; alice's export id gets him nothing of hers.
    bobs_export = await export(client, BOB)
    assert bobs_export["id"] != first["id"]
    bobs = archive(client, bobs_export["url"])
    assert sorted(name.rsplit("/", 1)[-1] for name in bobs) == ["bob.txt", "manifest.json"]


async def test_an_expired_export_is_rebuilt_and_the_old_archive_removed() -> None:
    client = SchemaClient()
    await client.sign_in(ALICE)
    await client.upload(ALICE, b"v1", name="a.txt")
    first = await export(client, ALICE)
    old_keys = {key for key in client.blobs.objects if key.startswith("files/export-")}
    assert len(old_keys) == 1
    client.clock.advance(24 * 3600 + 1)
    second = await export(client, ALICE)
    assert second["id"] != first["id"] and second["status"] == "READY"
    new_keys = {key for key in client.blobs.objects if key.startswith("files/export-")}
    assert len(new_keys) == 1 and new_keys.isdisjoint(old_keys)


async def test_a_file_whose_bytes_are_missing_fails_the_export_and_a_retry_rebuilds() -> None:
    client = SchemaClient()
    await client.sign_in(ALICE)
    await client.upload(ALICE, b"here", name="a.txt")
    (blob_key,) = client.blobs.objects  # the one file's bytes
    saved = client.blobs.objects.pop(blob_key)
    failed = await export(client, ALICE)
    assert (failed["status"], failed["url"]) == ("FAILED", None)
    client.blobs.objects[blob_key] = saved
    retried = await export(client, ALICE)
    assert retried["status"] == "READY" and retried["id"] != failed["id"]


class _GatedBlobs(InMemoryBlobStore):
    """Reads wait for ``gate``: an export stays BUILDING until the test opens it."""

    def __init__(self) -> None:
        super().__init__(max_expiry=3600)
        self.gate = asyncio.Event()

    async def read(self, key: str) -> AsyncIterator[bytes]:
        await self.gate.wait()
        async for chunk in super().read(key):
            yield chunk


async def test_a_second_call_while_building_returns_the_same_export() -> None:
    client = SchemaClient()
    await client.sign_in(ALICE)
    await client.upload(ALICE, b"slow bytes", name="a.txt")
    blobs = _GatedBlobs()
    blobs.objects.update(client.blobs.objects)
    blobs.confirmed.update(client.blobs.confirmed)
    exports = DataExports(client.items, blobs, UserRepository(client.items), clock=client.clock)

    building = asyncio.create_task(exports.export_my_data(ALICE.user_id))
    await asyncio.sleep(0.01)
    second = await exports.export_my_data(ALICE.user_id)
    assert second.status == "BUILDING" and second.url is None
    blobs.gate.set()
    done = await building
    assert (done.id, done.status) == (second.id, "READY")


async def test_the_archive_is_streamed_in_bounded_chunks() -> None:
    client = SchemaClient()
    await client.sign_in(ALICE)
    await client.upload(ALICE, BIG * 3, name="huge.bin", contentType="application/octet-stream")
    record = next(
        r
        for r in await client.services.files.repository.get_many(
            [k[0].removeprefix("FILE#") for k in client.store.items if k[0].startswith("FILE#")]
        )
        if r is not None
    )
    sizes = [
        len(chunk)
        async for chunk in tar_stream(
            [ArchivedFile(record, archive_path(record))], client.blobs.read, lambda d: {}, 0
        )
    ]
    assert sum(sizes) > 3 * len(BIG) and max(sizes) <= READ_CHUNK_BYTES
