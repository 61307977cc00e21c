"""The BlobStore's multipart contract, run against the in-memory fake, the local folder and
S3 (moto's server), each over HTTP the way clients send parts; then what only the stores
that judge a part's bytes themselves can show (the local folder and the fake: S3 enforces
a part's size through the signed Content-Length, which moto does not check)."""

import asyncio
import errno
import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from adapters.blobs.local import files as files_module
from adapters.blobs.local import parts as parts_module
from adapters.blobs.local.parts import MULTIPART_DIR
from adapters.blobs.local.store import LocalBlobStore
from adapters.blobs.rules import CHECKSUM_HEADER, sha256_hex_to_b64
from domain.errors import InvalidInputError, NotFoundError, StoreUnavailableError
from domain.files.multipart import composite_sha256
from domain.ports import PartTarget, StoredPart
from tests.support import blob_backends
from tests.support.blob_backends import BlobBackend, files_under, upload_state

blob_backend = blob_backends.blob_backend
local_backend = blob_backends.local_backend
s3_backend = blob_backends.s3_backend
local_blob_server = blob_backends.local_blob_server

KEY = "files/f-mp/ready-0123456789abcdef"
TYPE = "application/octet-stream"
PART = 5 * 1024 * 1024  # S3's smallest part but the last


def body_of(size: int, seed: int = 0) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


BODY = body_of(2 * PART + 4321)
CHUNKS = [BODY[:PART], BODY[PART : 2 * PART], BODY[2 * PART :]]


async def send_part(
    http: httpx.AsyncClient, target: PartTarget, data: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    assert target.method == "PUT"
    return await http.put(target.url, content=data, headers={**target.headers, **(headers or {})})


async def put_parts(backend: BlobBackend, upload_id: str, numbers: list[int]) -> dict[int, str]:
    etags = {}
    for number in numbers:
        data = CHUNKS[number - 1]
        target = await backend.store.presign_part(
            KEY, upload_id, number, size=len(data), expires_in=300
        )
        response = await send_part(backend.http, target, data)
        assert response.status_code == 200, response.text
        etags[number] = response.headers["etag"]
    return etags


def refused_status(backend: BlobBackend) -> int:
    """A part for a closed upload: S3 answers 404 NoSuchUpload; moto fails it with a 500."""
    return 500 if backend.name == "s3-moto" else 404


async def downloaded(backend: BlobBackend) -> bytes:
    chunks = [chunk async for chunk in backend.store.read(KEY)]
    return b"".join(chunks)


async def test_parts_sent_in_any_order_assemble_into_the_object(blob_backend: BlobBackend) -> None:
    store = blob_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    etags = await put_parts(blob_backend, upload_id, [3, 1, 2])
    listed = await store.uploaded_parts(KEY, upload_id)
    assert [(p.part_number, p.size, p.etag) for p in listed] == [
        (n, len(CHUNKS[n - 1]), etags[n]) for n in (1, 2, 3)
    ]
    assert await store.head(KEY) is None  # nothing published before completion

    info = await store.complete_multipart(KEY, upload_id, sorted(etags.items()))

    assert (info.size, info.sha256) == (len(BODY), hashlib.sha256(BODY).hexdigest())
    assert await downloaded(blob_backend) == BODY
    assert await upload_state(blob_backend, KEY) != "confirmed"
    with pytest.raises(NotFoundError):
        await store.uploaded_parts(KEY, upload_id)  # closed by completion


async def test_a_part_sent_again_replaces_the_first(blob_backend: BlobBackend) -> None:
    store = blob_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    await put_parts(blob_backend, upload_id, [1, 2])
    other = body_of(PART, seed=7)
    target = await store.presign_part(KEY, upload_id, 1, size=PART, expires_in=300)
    response = await send_part(blob_backend.http, target, other)
    assert response.status_code == 200
    etags = {p.part_number: p.etag for p in await store.uploaded_parts(KEY, upload_id)}
    assert etags[1] == response.headers["etag"]
    etags |= await put_parts(blob_backend, upload_id, [3])
    info = await store.complete_multipart(KEY, upload_id, sorted(etags.items()))
    assert await downloaded(blob_backend) == other + CHUNKS[1] + CHUNKS[2]
    # The hash is of the bytes kept, not of those first received in order.
    assert info.sha256 == hashlib.sha256(other + CHUNKS[1] + CHUNKS[2]).hexdigest()


async def test_wrong_etag_or_missing_part_is_refused_and_the_upload_stays_open(
    blob_backend: BlobBackend,
) -> None:
    store = blob_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    etags = await put_parts(blob_backend, upload_id, [1, 2, 3])
    wrong = {**etags, 2: '"' + "0" * 32 + '"'}
    with pytest.raises(InvalidInputError):
        await store.complete_multipart(KEY, upload_id, sorted(wrong.items()))
    with pytest.raises(InvalidInputError):
        await store.complete_multipart(KEY, upload_id, [(1, etags[1]), (4, etags[3])])
    assert await store.head(KEY) is None
    assert len(await store.uploaded_parts(KEY, upload_id)) == 3
    await store.complete_multipart(KEY, upload_id, sorted(etags.items()))
    assert await downloaded(blob_backend) == BODY


async def test_abort_drops_the_parts_and_closes_the_upload(blob_backend: BlobBackend) -> None:
    store = blob_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    await put_parts(blob_backend, upload_id, [1])
    late = await store.presign_part(KEY, upload_id, 2, size=PART, expires_in=300)

    await store.abort_multipart(KEY, upload_id)
    await store.abort_multipart(KEY, upload_id)  # idempotent

    with pytest.raises(NotFoundError):
        await store.uploaded_parts(KEY, upload_id)
    response = await send_part(blob_backend.http, late, CHUNKS[1])
    assert response.status_code == refused_status(blob_backend)
    assert await store.head(KEY) is None
    if blob_backend.local is not None:
        assert files_under(blob_backend.local.root / MULTIPART_DIR) == []


async def test_a_part_after_completion_is_refused(blob_backend: BlobBackend) -> None:
    store = blob_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    etags = await put_parts(blob_backend, upload_id, [1, 2, 3])
    late = await store.presign_part(KEY, upload_id, 1, size=PART, expires_in=300)
    await store.complete_multipart(KEY, upload_id, sorted(etags.items()))
    response = await send_part(blob_backend.http, late, body_of(PART, seed=9))
    assert response.status_code == refused_status(blob_backend)
    assert await downloaded(blob_backend) == BODY


async def test_an_upload_is_reachable_only_through_its_own_key(blob_backend: BlobBackend) -> None:
    store = blob_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    if blob_backend.name != "s3-moto":  # moto lists an upload's parts under any key; S3 does not
        with pytest.raises(NotFoundError):
            await store.uploaded_parts("files/f-other/ready-0123456789abcdef", upload_id)
    with pytest.raises(NotFoundError):
        await store.uploaded_parts(KEY, "no-such-upload")


@pytest.mark.parametrize("part_number", [0, 10_001, -1])
async def test_part_numbers_outside_s3s_range_are_refused(
    blob_backend: BlobBackend, part_number: int
) -> None:
    upload_id = await blob_backend.store.start_multipart(KEY, content_type=TYPE)
    with pytest.raises(InvalidInputError):
        await blob_backend.store.presign_part(KEY, upload_id, part_number, size=1, expires_in=60)


# --- stores that judge a part's bytes themselves ---------------------------------------


@pytest.fixture(params=["memory", "local"])
async def judging_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[BlobBackend]:
    if request.param == "memory":
        async for backend in blob_backends.memory_backend():
            yield backend
    else:
        server = request.getfixturevalue("local_blob_server")
        async for backend in blob_backends.local_backend_in(server, tmp_path):
            yield backend


@pytest.mark.parametrize("delta", [-1, 1])
async def test_a_part_of_the_wrong_size_is_refused(
    judging_backend: BlobBackend, delta: int
) -> None:
    store = judging_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    target = await store.presign_part(KEY, upload_id, 1, size=1000, expires_in=300)
    response = await send_part(judging_backend.http, target, os.urandom(1000 + delta))
    assert response.status_code in (400, 413)
    assert await store.uploaded_parts(KEY, upload_id) == []


async def test_a_part_not_matching_its_checksum_header_is_refused(
    judging_backend: BlobBackend,
) -> None:
    store = judging_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    target = await store.presign_part(KEY, upload_id, 1, size=1000, expires_in=300)
    data = os.urandom(1000)
    wrong = {CHECKSUM_HEADER: sha256_hex_to_b64(hashlib.sha256(b"other").hexdigest())}
    response = await send_part(judging_backend.http, target, data, wrong)
    assert response.status_code == 400
    right = {CHECKSUM_HEADER: sha256_hex_to_b64(hashlib.sha256(data).hexdigest())}
    response = await send_part(judging_backend.http, target, data, right)
    assert response.status_code == 200
    [part] = await store.uploaded_parts(KEY, upload_id)
    assert part.sha256 == hashlib.sha256(data).hexdigest()


async def test_a_tampered_part_url_is_refused(local_backend: BlobBackend) -> None:
    store = local_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    target = await store.presign_part(KEY, upload_id, 1, size=1000, expires_in=300)
    tampered = PartTarget(
        2, target.url.replace("partNumber=1", "partNumber=2"), "PUT", {}, target.expires_at
    )
    response = await send_part(local_backend.http, tampered, os.urandom(1000))
    assert response.status_code == 403


async def test_local_sweep_removes_unfinished_multipart_uploads(local_backend: BlobBackend) -> None:
    assert local_backend.local is not None
    store = local_backend.local.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    await put_parts(local_backend, upload_id, [1])
    assert await store.sweep_unconfirmed(3600) == 0
    local_backend.local.clock.advance(3601)
    assert await store.sweep_unconfirmed(3600) == 1
    assert files_under(local_backend.local.root / MULTIPART_DIR) == []
    with pytest.raises(NotFoundError):
        await store.uploaded_parts(KEY, upload_id)


# --- the local store hashes every byte once ---------------------------------------------


@pytest.fixture
def hashed_at_completion(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the parts the local store reads back to hash (clear it before
    completing to see what completion reads)."""
    sizes: list[int] = []
    hash_file = parts_module._hash_file

    def counting(fd: int, size: int, digest: "hashlib._Hash") -> None:
        sizes.append(size)
        hash_file(fd, size, digest)

    monkeypatch.setattr(parts_module, "_hash_file", counting)
    return sizes


async def completes_reading_nothing_back(
    backend: BlobBackend, upload_id: str, etags: dict[int, str], hashed_at_completion: list[int]
) -> None:
    """Completion gives the whole body and its SHA-256 without reading a part back."""
    hashed_at_completion.clear()
    info = await backend.store.complete_multipart(KEY, upload_id, sorted(etags.items()))
    assert info.sha256 == sha256_of(BODY)
    assert await downloaded(backend) == BODY
    assert hashed_at_completion == []


@pytest.mark.parametrize(
    ("order", "read_back"),
    [([1, 2, 3], []), ([3, 1, 2], [3]), ([2, 1, 3], [2])],
)
async def test_local_parts_out_of_order_are_hashed_when_their_turn_comes_not_at_completion(
    local_backend: BlobBackend,
    hashed_at_completion: list[int],
    order: list[int],
    read_back: list[int],
) -> None:
    """A part that arrived before the one the running hash waited for is read back once,
    when that one is stored (3-1-2: part 3 once 2 is in; 2-1-3: part 2 once 1 is in, and
    3 is hashed as it arrives); completion reads nothing back."""
    store = local_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    etags = await put_parts(local_backend, upload_id, order)
    assert hashed_at_completion == [len(CHUNKS[number - 1]) for number in read_back]
    await completes_reading_nothing_back(local_backend, upload_id, etags, hashed_at_completion)


async def test_local_parts_sent_concurrently_leave_completion_nothing_to_hash(
    local_backend: BlobBackend, hashed_at_completion: list[int]
) -> None:
    """As S3 clients send them: several parts in flight at once, over their own
    connections, stored in whatever order they finish."""
    store = local_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    sent = await asyncio.gather(*(put_parts(local_backend, upload_id, [n]) for n in (3, 2, 1)))
    etags = {number: etag for part in sent for number, etag in part.items()}
    await completes_reading_nothing_back(local_backend, upload_id, etags, hashed_at_completion)


async def test_local_completion_after_a_restart_hashes_the_parts_on_disk(
    local_backend: BlobBackend, hashed_at_completion: list[int]
) -> None:
    assert local_backend.local is not None
    upload_id = await local_backend.store.start_multipart(KEY, content_type=TYPE)
    etags = await put_parts(local_backend, upload_id, [1, 2, 3])
    # A new process on the same folder: what was hashed in memory is gone.
    restarted = LocalBlobStore(
        local_backend.local.root,
        base_url=local_backend.local.base_url,
        signing_key=blob_backends.SIGNING_KEY,
    )
    info = await restarted.complete_multipart(KEY, upload_id, sorted(etags.items()))
    assert info.sha256 == sha256_of(BODY)
    assert hashed_at_completion == [len(chunk) for chunk in CHUNKS]


async def test_a_part_sent_again_while_completing_is_not_taken_for_the_listed_one(
    local_backend: BlobBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Part 1 is replaced after completion checked the list and before it closed the
    upload: the list names a copy no longer there, so nothing is assembled."""
    assert local_backend.local is not None
    store = local_backend.local.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    etags = await put_parts(local_backend, upload_id, [1, 2, 3])
    files = store._parts
    listed = files._stored
    other = body_of(PART, seed=5)

    def send_again_once_listed(directory: Path) -> dict[int, StoredPart]:
        stored = listed(directory)
        if directory.name == upload_id:  # the first look: the upload is still open
            pending = files.create_part(upload_id, 1, hash_part=False)
            pending.write_chunks([other])
            pending.commit(1)
        return stored

    monkeypatch.setattr(files, "_stored", send_again_once_listed)
    with pytest.raises(InvalidInputError):
        await store.complete_multipart(KEY, upload_id, sorted(etags.items()))
    monkeypatch.undo()
    assert await store.head(KEY) is None
    current = {part.part_number: part.etag for part in await store.uploaded_parts(KEY, upload_id)}
    info = await store.complete_multipart(KEY, upload_id, sorted(current.items()))
    assert info.sha256 == sha256_of(other + CHUNKS[1] + CHUNKS[2])
    assert await downloaded(local_backend) == other + CHUNKS[1] + CHUNKS[2]


async def test_a_part_sent_again_while_hashed_ahead_is_the_one_assembled(
    local_backend: BlobBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Part 2 arrived first and is being hashed from disk once part 1 is in, when a new
    copy of part 2 replaces it: the run holds the first copy's bytes, so completion with
    the new copy's ETag must hash the new bytes, not adopt the run."""
    assert local_backend.local is not None
    store = local_backend.local.store
    files = store._parts
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    first = await put_parts(local_backend, upload_id, [2, 3])
    other = body_of(PART, seed=7)
    hash_file = parts_module._hash_file
    replaced: list[str] = []

    def replacing_while_hashing(fd: int, size: int, digest: "hashlib._Hash") -> None:
        if not replaced:
            pending = files.create_part(upload_id, 2, hash_part=False)
            pending.write_chunks([other])
            replaced.append(pending.commit(2).etag)
        hash_file(fd, size, digest)

    monkeypatch.setattr(parts_module, "_hash_file", replacing_while_hashing)
    etags = first | await put_parts(local_backend, upload_id, [1]) | {2: replaced[0]}
    info = await store.complete_multipart(KEY, upload_id, sorted(etags.items()))
    assert info.sha256 == sha256_of(CHUNKS[0] + other + CHUNKS[2])
    assert await downloaded(local_backend) == CHUNKS[0] + other + CHUNKS[2]


async def test_an_upload_closed_while_hashed_ahead_keeps_no_run(
    local_backend: BlobBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert local_backend.local is not None
    store = local_backend.local.store
    files = store._parts
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    await put_parts(local_backend, upload_id, [2])
    hash_file = parts_module._hash_file

    def closing_while_hashing(fd: int, size: int, digest: "hashlib._Hash") -> None:
        with files._lock:  # as completion and abort let go of it
            files._runs.pop(upload_id, None)
        hash_file(fd, size, digest)

    monkeypatch.setattr(parts_module, "_hash_file", closing_while_hashing)
    await put_parts(local_backend, upload_id, [1])
    assert upload_id not in files._runs
    assert upload_id not in files._advancing


@pytest.fixture
def copied_in(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The byte counts the local store copies into a blob by the kernel."""
    counts: list[int] = []
    copy_range = files_module.copy_range

    def counting(source: int, dest: int, count: int, offset: int = 0) -> None:
        counts.append(count)
        copy_range(source, dest, count, offset)

    monkeypatch.setattr(files_module, "copy_range", counting)
    return counts


@pytest.mark.parametrize("concurrently", [False, True])
async def test_local_parts_in_order_are_the_blob_file_itself(
    local_backend: BlobBackend, copied_in: list[int], concurrently: bool
) -> None:
    """Parts of one size are written in place into the upload's data file, which becomes
    the blob: completion copies only the shorter last part in after them."""
    assert local_backend.local is not None
    store = local_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    data = local_backend.local.root / MULTIPART_DIR / upload_id / "data"
    if concurrently:
        # The last part last, as clients send it: its size is not the stride's.
        sent = await asyncio.gather(*(put_parts(local_backend, upload_id, [n]) for n in (2, 1)))
        etags = {number: etag for part in sent for number, etag in part.items()}
        etags |= await put_parts(local_backend, upload_id, [3])
    else:
        etags = await put_parts(local_backend, upload_id, [1, 2, 3])
    inode = data.stat().st_ino
    info = await store.complete_multipart(KEY, upload_id, sorted(etags.items()))
    assert info.sha256 == sha256_of(BODY)
    assert await downloaded(local_backend) == BODY
    assert local_backend.local.root.joinpath(*KEY.split("/")).stat().st_ino == inode
    assert copied_in == [len(CHUNKS[2])]


async def test_a_part_being_written_in_place_is_stopped_by_completion(
    local_backend: BlobBackend,
) -> None:
    """A part 4 still arriving when parts 1-3 are completed: once completion has the data
    file, no byte of that part may land in what became the blob."""
    assert local_backend.local is not None
    store = local_backend.local.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    etags = await put_parts(local_backend, upload_id, [1, 2])
    late = store._parts.create_part(upload_id, 4, hash_part=False, size=PART)
    late.write_chunks([body_of(1024 * 1024, seed=9)])
    etags |= await put_parts(local_backend, upload_id, [3])
    await store.complete_multipart(KEY, upload_id, sorted(etags.items()))
    with pytest.raises(NotFoundError):
        late.write_chunks([body_of(1024 * 1024, seed=9)])
    late.abort()
    assert await downloaded(local_backend) == BODY
    assert (await store.head(KEY)).size == len(BODY)  # type: ignore[union-attr]


async def test_a_completion_failing_in_place_leaves_the_parts_to_complete_again(
    local_backend: BlobBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert local_backend.local is not None
    store = local_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    etags = await put_parts(local_backend, upload_id, [1, 2, 3])
    commit = files_module.PendingBlob.commit

    def failing(self: files_module.PendingBlob, *args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, "disk trouble")

    monkeypatch.setattr(files_module.PendingBlob, "commit", failing)
    with pytest.raises(StoreUnavailableError):
        await store.complete_multipart(KEY, upload_id, sorted(etags.items()))
    monkeypatch.setattr(files_module.PendingBlob, "commit", commit)
    assert await store.head(KEY) is None
    assert {
        part.part_number: part.etag for part in await store.uploaded_parts(KEY, upload_id)
    } == etags
    info = await store.complete_multipart(KEY, upload_id, sorted(etags.items()))
    assert info.sha256 == sha256_of(BODY)
    assert await downloaded(local_backend) == BODY


async def test_a_part_in_place_past_the_listed_ones_survives_a_failed_completion(
    local_backend: BlobBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Part 4 (of the stride's size) is stored in place past the listed parts 1-3: the data
    file cannot become the blob without cutting it off, so it is left whole for a retry."""
    assert local_backend.local is not None
    store = local_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    etags = await put_parts(local_backend, upload_id, [1, 2])
    fourth = body_of(PART, seed=11)
    target = await store.presign_part(KEY, upload_id, 4, size=PART, expires_in=300)
    etags[4] = (await send_part(local_backend.http, target, fourth)).headers["etag"]
    etags |= await put_parts(local_backend, upload_id, [3])
    commit = files_module.PendingBlob.commit

    def failing(self: files_module.PendingBlob, *args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, "disk trouble")

    monkeypatch.setattr(files_module.PendingBlob, "commit", failing)
    first_three = sorted((n, etag) for n, etag in etags.items() if n < 4)
    with pytest.raises(StoreUnavailableError):
        await store.complete_multipart(KEY, upload_id, first_three)
    monkeypatch.setattr(files_module.PendingBlob, "commit", commit)
    listed = {part.part_number: part.etag for part in await store.uploaded_parts(KEY, upload_id)}
    assert listed == etags
    info = await store.complete_multipart(KEY, upload_id, sorted(etags.items()))
    assert info.sha256 == sha256_of(BODY + fourth)
    assert await downloaded(local_backend) == BODY + fourth


@pytest.mark.parametrize("refused", [False, True])
async def test_local_parts_in_place_go_to_the_disk_before_completion(
    local_backend: BlobBackend, monkeypatch: pytest.MonkeyPatch, refused: bool
) -> None:
    """Each part written in place has its writeback started when it is stored, so the
    fsync at completion does not write the whole upload within its request; where the
    system refuses the advice, nothing else changes."""
    advised: list[tuple[int, int]] = []
    fadvise = os.posix_fadvise

    def recording(fd: int, offset: int, length: int, advice: int) -> None:
        assert advice == os.POSIX_FADV_DONTNEED
        advised.append((offset, length))
        if refused:
            raise OSError(errno.EINVAL, "not here")
        fadvise(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", recording)
    store = local_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    etags = await put_parts(local_backend, upload_id, [1, 2, 3])
    assert advised == [(0, PART), (PART, PART)]  # the last part has a file of its own
    info = await store.complete_multipart(KEY, upload_id, sorted(etags.items()))
    assert info.sha256 == sha256_of(BODY)
    assert await downloaded(local_backend) == BODY


async def test_local_parts_without_a_checksum_are_named_per_copy(
    local_backend: BlobBackend,
) -> None:
    """No checksum to check: the part is not hashed on its own (as S3 records none), and
    its ETag names the stored copy, so completing with an earlier copy's is refused."""
    store = local_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    first = await put_parts(local_backend, upload_id, [1, 2, 3])
    again = await put_parts(local_backend, upload_id, [1])
    assert again[1] != first[1]
    assert [part.sha256 for part in await store.uploaded_parts(KEY, upload_id)] == [None] * 3
    with pytest.raises(InvalidInputError):
        await store.complete_multipart(KEY, upload_id, sorted(first.items()))
    info = await store.complete_multipart(KEY, upload_id, sorted((first | again).items()))
    assert info.sha256 == sha256_of(BODY)


async def test_local_completion_fsyncs_the_assembled_bytes_before_answering(
    local_backend: BlobBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts are not fsynced on arrival: the durability of READY bytes rests on this."""
    assert local_backend.local is not None
    store = local_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    etags = await put_parts(local_backend, upload_id, [1, 2, 3])
    synced: list[tuple[str, int, int]] = []
    fsync = os.fsync

    def recording(fd: int) -> None:
        fsync(fd)
        stat = os.fstat(fd)
        synced.append((os.readlink(f"/proc/self/fd/{fd}"), stat.st_size, stat.st_ino))

    monkeypatch.setattr(os, "fsync", recording)
    await store.complete_multipart(KEY, upload_id, sorted(etags.items()))
    blob = local_backend.local.root.joinpath(*KEY.split("/"))
    # The blob's very bytes synced whole (under a temporary name), then its folder.
    assert (len(BODY), blob.stat().st_ino) in [(size, inode) for _, size, inode in synced]
    assert str(blob.parent) in [path for path, _, _ in synced]


async def chunked(data: bytes, chunk: int = 256 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]


@pytest.mark.parametrize("extra", [-1, 1, 3 * 1024 * 1024])
async def test_a_streamed_part_of_the_wrong_size_leaves_nothing(
    judging_backend: BlobBackend, extra: int
) -> None:
    """Chunked, so the store finds out only after it has written megabytes of it."""
    store = judging_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    target = await store.presign_part(KEY, upload_id, 1, size=PART, expires_in=300)
    body = body_of(PART + extra, seed=3)
    response = await judging_backend.http.put(target.url, content=chunked(body))
    assert response.status_code in (400, 413)
    assert await store.uploaded_parts(KEY, upload_id) == []
    if judging_backend.local is not None:
        # The part was written in place: what it wrote stays in the data file, named by
        # no stored part, until the place is written again (below) or the upload ends.
        folder = judging_backend.local.root / MULTIPART_DIR / upload_id
        assert [path.name for path in files_under(folder)] == ["data", "upload.json"]
    etags = await put_parts(judging_backend, upload_id, [1, 2, 3])
    info = await store.complete_multipart(KEY, upload_id, sorted(etags.items()))
    assert info.sha256 == sha256_of(BODY)


async def test_a_part_cut_off_mid_body_leaves_nothing(local_backend: BlobBackend) -> None:
    assert local_backend.local is not None
    store = local_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    target = await store.presign_part(KEY, upload_id, 1, size=PART, expires_in=300)
    url = httpx.URL(target.url)
    _, writer = await asyncio.open_connection(url.host, url.port)
    head = f"PUT {url.raw_path.decode()} HTTP/1.1\r\nHost: {url.host}\r\n"
    writer.write(f"{head}Content-Length: {PART}\r\n\r\n".encode())
    writer.write(body_of(3 * 1024 * 1024))  # more than a batch, less than the part
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    folder = local_backend.local.root / MULTIPART_DIR / upload_id
    writers = local_backend.local.store._parts._slots[upload_id].writers
    deadline = time.monotonic() + 10
    while writers:  # the part, written in place, lets go of its place when dropped
        assert time.monotonic() < deadline, writers
        await asyncio.sleep(0.05)
    assert [path.name for path in files_under(folder)] == ["data", "upload.json"]
    assert await store.uploaded_parts(KEY, upload_id) == []
    # Its place is free: part 1 goes there again, over what the dropped one wrote.
    etags = await put_parts(local_backend, upload_id, [1, 2, 3])
    info = await store.complete_multipart(KEY, upload_id, sorted(etags.items()))
    assert info.sha256 == sha256_of(BODY)
    assert await downloaded(local_backend) == BODY


async def test_local_uploads_let_go_of_their_in_order_hash(local_backend: BlobBackend) -> None:
    assert local_backend.local is not None
    store = local_backend.local.store
    runs = store._parts._runs  # what an open upload keeps in memory
    done, aborted, swept = [await store.start_multipart(KEY, content_type=TYPE) for _ in "abc"]
    for upload_id in (done, aborted, swept):
        await put_parts(local_backend, upload_id, [1])
    assert set(runs) == {done, aborted, swept}
    etags = await put_parts(local_backend, done, [2, 3])
    await store.complete_multipart(KEY, done, sorted(etags.items()))
    await store.abort_multipart(KEY, aborted)
    local_backend.local.clock.advance(3601)
    assert await store.sweep_unconfirmed(3600) == 2  # the upload, and the completed blob
    assert runs == {}


# --- part checksums: every store, S3 through moto with S3's rules put in front ----------
# (tests/support/s3_part_checksums.py: moto itself verifies, records and asks for none)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def checksum_target(
    backend: BlobBackend, upload_id: str, number: int, sha256: str
) -> PartTarget:
    size = len(CHUNKS[number - 1])
    return await backend.store.presign_part(
        KEY, upload_id, number, size=size, expires_in=300, sha256=sha256
    )


async def put_parts_with_checksums(backend: BlobBackend, upload_id: str) -> dict[int, str]:
    etags = {}
    for number, data in enumerate(CHUNKS, start=1):
        target = await checksum_target(backend, upload_id, number, sha256_of(data))
        assert target.headers == {CHECKSUM_HEADER: sha256_hex_to_b64(sha256_of(data))}
        response = await send_part(backend.http, target, data)
        assert response.status_code == 200, response.text
        etags[number] = response.headers["etag"]
    return etags


async def test_parts_with_their_checksums_are_recorded_and_assemble(
    blob_backend: BlobBackend,
) -> None:
    store = blob_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE, part_checksums=True)
    etags = await put_parts_with_checksums(blob_backend, upload_id)
    listed = await store.uploaded_parts(KEY, upload_id)
    assert [(p.part_number, p.sha256) for p in listed] == [
        (n, sha256_of(data)) for n, data in enumerate(CHUNKS, start=1)
    ]
    checksums = {p.part_number: p.sha256 for p in listed if p.sha256 is not None}

    info = await store.complete_multipart(
        KEY, upload_id, sorted(etags.items()), checksums=checksums
    )

    # A store vouches for the bytes one way or the other: it hashed them (the local store,
    # while assembling), or it answers S3's composite of the part checksums it checked —
    # never a hash of the bytes it did not take.
    composite = composite_sha256([sha256_of(data) for data in CHUNKS])
    assert info.size == len(BODY)
    assert (info.sha256, info.composite_sha256) in {(sha256_of(BODY), None), (None, composite)}
    assert await downloaded(blob_backend) == BODY


async def test_a_part_whose_bytes_differ_from_its_checksum_is_refused(
    blob_backend: BlobBackend,
) -> None:
    """The client gave part 1's SHA-256 and then sent other bytes with the header it was
    told to send: the store refuses them (S3: 400 BadDigest) and records nothing."""
    store = blob_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE, part_checksums=True)
    target = await checksum_target(blob_backend, upload_id, 1, sha256_of(CHUNKS[0]))
    corrupted = b"\x00" + CHUNKS[0][1:]
    response = await send_part(blob_backend.http, target, corrupted)
    assert response.status_code == 400
    assert await store.uploaded_parts(KEY, upload_id) == []
    response = await send_part(blob_backend.http, target, CHUNKS[0])
    assert response.status_code == 200
    assert [p.sha256 for p in await store.uploaded_parts(KEY, upload_id)] == [sha256_of(CHUNKS[0])]


@pytest.mark.parametrize("header", ["missing", "other"])
async def test_a_part_without_the_signed_checksum_header_is_refused(
    blob_backend: BlobBackend, header: str
) -> None:
    """The checksum is signed into the URL: leaving the header out, or sending the
    checksum of other bytes (even matching them), fails the signature (403)."""
    store = blob_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE, part_checksums=True)
    target = await checksum_target(blob_backend, upload_id, 1, sha256_of(CHUNKS[0]))
    other = body_of(PART, seed=3)
    if header == "missing":
        response = await blob_backend.http.put(target.url, content=CHUNKS[0])
    else:
        sent = {CHECKSUM_HEADER: sha256_hex_to_b64(sha256_of(other))}
        response = await blob_backend.http.put(target.url, content=other, headers=sent)
    assert response.status_code == 403
    assert await store.uploaded_parts(KEY, upload_id) == []


async def test_completion_with_a_checksum_other_than_the_recorded_one_is_refused(
    blob_backend: BlobBackend,
) -> None:
    store = blob_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE, part_checksums=True)
    etags = await put_parts_with_checksums(blob_backend, upload_id)
    right = {n: sha256_of(data) for n, data in enumerate(CHUNKS, start=1)}
    for wrong in ({**right, 2: sha256_of(b"other")}, {1: right[1], 3: right[3]}):
        with pytest.raises(InvalidInputError):
            await store.complete_multipart(KEY, upload_id, sorted(etags.items()), checksums=wrong)
    assert await store.head(KEY) is None
    assert len(await store.uploaded_parts(KEY, upload_id)) == 3
    await store.complete_multipart(KEY, upload_id, sorted(etags.items()), checksums=right)
    assert await downloaded(blob_backend) == BODY


async def test_s3_refuses_a_part_checksum_in_an_upload_opened_without_them(
    s3_backend: BlobBackend,
) -> None:
    """Why part checksums are chosen at createUpload: S3 answers "Checksum Type mismatch"
    to a part carrying x-amz-checksum-sha256 in an upload opened without ChecksumAlgorithm
    (moto would store it; the harness answers as S3 does)."""
    store = s3_backend.store
    upload_id = await store.start_multipart(KEY, content_type=TYPE)
    target = await store.presign_part(
        KEY, upload_id, 1, size=PART, expires_in=300, sha256=sha256_of(CHUNKS[0])
    )
    response = await send_part(s3_backend.http, target, CHUNKS[0])
    assert response.status_code == 400
    assert "Checksum Type mismatch" in response.text
    assert await store.uploaded_parts(KEY, upload_id) == []
