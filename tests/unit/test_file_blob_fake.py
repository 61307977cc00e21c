"""The in-memory BlobStore enforces what it presigned, as the real stores do; the rest of
its contract is tests/contract/test_blob_store.py."""

import hashlib
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from adapters.blobs.memory import BlobTooLargeError, InMemoryBlobStore
from domain.errors import ForbiddenError, InvalidInputError, NotFoundError
from domain.ports import UploadTarget
from tests.support.clock import FakeClock

KEY = "files/f1/blob"
BODY = b"some bytes"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2024, 5, 1, tzinfo=UTC))


@pytest.fixture
def store(clock: FakeClock) -> InMemoryBlobStore:
    return InMemoryBlobStore(clock=clock.seconds)


async def target(store: InMemoryBlobStore, sha256: str | None = None) -> UploadTarget:
    return await store.presign_upload(
        KEY, size=len(BODY), content_type="text/plain", sha256=sha256, expires_in=60
    )


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | changes
    return parts._replace(query=urlencode(query)).geturl()


@pytest.mark.parametrize(
    ("body", "headers", "error"),
    [
        (BODY + b"!", {}, BlobTooLargeError),
        (BODY[:-1], {}, InvalidInputError),
        (BODY, {"Content-Type": "text/html"}, InvalidInputError),
        (b"other byte", {}, InvalidInputError),  # same size, other SHA-256
    ],
    ids=["longer", "shorter", "type", "sha256"],
)
async def test_uploads_must_match_the_declaration(
    store: InMemoryBlobStore, body: bytes, headers: dict[str, str], error: type[Exception]
) -> None:
    upload = await target(store, hashlib.sha256(BODY).hexdigest())
    with pytest.raises(error):
        store.receive_upload(upload.url, body, upload.headers | headers)
    assert await store.head(KEY) is None


@pytest.mark.parametrize(
    "changes", [{"size": "11"}, {"contentType": "text/html"}, {"token": "forged"}]
)
async def test_a_tampered_upload_url_is_refused(
    store: InMemoryBlobStore, changes: dict[str, str]
) -> None:
    upload = await target(store)
    with pytest.raises(ForbiddenError):
        store.receive_upload(with_query(upload.url, **changes), BODY, upload.headers)
    moved = upload.url.replace(KEY, "files/f2/blob")
    with pytest.raises(ForbiddenError):
        store.receive_upload(moved, BODY, upload.headers)


async def test_urls_expire(store: InMemoryBlobStore, clock: FakeClock) -> None:
    upload = await target(store)
    clock.advance(61)
    with pytest.raises(ForbiddenError):
        store.receive_upload(upload.url, BODY, upload.headers)
    clock.advance(-1)
    store.receive_upload(upload.url, BODY, upload.headers)
    download = await store.presign_download(KEY, filename="a.txt", expires_in=60)
    clock.advance(61)
    with pytest.raises(ForbiddenError):
        store.open_download(download)


async def test_head_describes_what_was_stored(store: InMemoryBlobStore) -> None:
    store.put_object(KEY, BODY, "text/plain")
    info = await store.head(KEY)
    assert info is not None
    assert (info.size, info.content_type, info.sha256) == (
        len(BODY),
        "text/plain",
        hashlib.sha256(BODY).hexdigest(),
    )
    await store.delete(KEY)
    with pytest.raises(NotFoundError):
        await store.copy(KEY, "files/f2/blob")


async def test_the_urls_work_over_http(store: InMemoryBlobStore) -> None:
    upload = await target(store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=store.asgi_app)) as http:
        refused = await http.put(upload.url, content=BODY + b"x", headers=upload.headers)
        assert refused.status_code == 413
        assert refused.json()["error"]["code"] == "BAD_USER_INPUT"
        assert (await http.put(upload.url, content=BODY, headers=upload.headers)).is_success
        url = await store.presign_download(KEY, filename="a b.txt", expires_in=60)
        response = await http.get(url)
    assert response.content == BODY
    assert response.headers["content-disposition"].startswith('attachment; filename="a b.txt"')


async def test_unconfirmed_lists_what_a_real_store_would_expire(store: InMemoryBlobStore) -> None:
    store.put_object(KEY, BODY, "text/plain")
    store.put_object("files/f2/blob", BODY, "text/plain")
    assert store.unconfirmed() == {KEY, "files/f2/blob"}
    await store.confirm(KEY)
    assert store.unconfirmed() == {"files/f2/blob"}
    await store.delete(KEY)
    assert KEY not in store.confirmed
    store.put_object(KEY, BODY, "text/plain")  # a new upload starts unconfirmed
    assert store.unconfirmed() == {KEY, "files/f2/blob"}
