"""The local /blobs routes as HTTP: status codes, the JSON error body, headers, streaming
(an oversized body is refused without being read to the end), abandoned uploads, and
keeping signatures out of logs. The store's own rules are in the contract suite."""

import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import Message

from adapters.blobs.local.store import LocalBlobStore
from api.log_redaction import SignatureRedactingFilter, redact_signatures
from domain.ports import UploadTarget
from tests.support.blob_backends import SIGNING_KEY, build_blob_app, files_under

BASE_URL = "http://testserver"
KEY = "files/f-1/blob"
BODY = b"0123456789" * 1000
CHUNK = 1000


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    store = LocalBlobStore(tmp_path / "blobs", base_url=BASE_URL, signing_key=SIGNING_KEY)
    store.prepare()
    return store


@pytest.fixture
async def http(store: LocalBlobStore) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_blob_app(store))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


async def presign(store: LocalBlobStore, body: bytes = BODY, **changes: Any) -> UploadTarget:
    declared: dict[str, Any] = {
        "size": len(body),
        "content_type": "text/plain",
        "sha256": hashlib.sha256(body).hexdigest(),
        "expires_in": 300,
    } | changes
    return await store.presign_upload(KEY, **declared)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["requestId"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text and "signature=" not in response.text
    return error


class CountingBody:
    """A request body that records how much of it the server pulled."""

    def __init__(self, data: bytes, *, endless: bool = False) -> None:
        self.data = data
        self.endless = endless
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        offset = 0
        while self.endless or offset < len(self.data):
            self.pulled += 1
            yield self.data[offset : offset + CHUNK] or b"x" * CHUNK
            offset += CHUNK


async def test_upload_answers_200_with_the_checksum_s3_would_echo(
    store: LocalBlobStore, http: httpx.AsyncClient
) -> None:
    target = await presign(store)
    response = await http.put(target.url, content=BODY, headers=target.headers)
    assert response.status_code == 200, response.text
    assert response.headers["x-amz-checksum-sha256"] == target.headers["x-amz-checksum-sha256"]
    assert response.content == b""
    assert await store.head(KEY) is not None


async def test_errors_are_the_json_error_body(
    store: LocalBlobStore, http: httpx.AsyncClient
) -> None:
    target = await presign(store)
    forged = target.url.replace("signature=", "signature=00")
    error = assert_error(
        await http.put(forged, content=BODY, headers=target.headers), 403, "FORBIDDEN"
    )
    assert error["message"] == "Invalid or expired signature"
    wrong_type = {**target.headers, "Content-Type": "text/html"}
    assert_error(
        await http.put(target.url, content=BODY, headers=wrong_type), 400, "BAD_USER_INPUT"
    )
    too_long = BODY + b"!"
    assert_error(
        await http.put(target.url, content=too_long, headers=target.headers), 413, "BAD_USER_INPUT"
    )
    url = await store.presign_download(KEY, filename="a.txt", expires_in=60)
    assert_error(await http.get(url), 404, "NOT_FOUND")


async def test_an_endless_body_is_refused_once_it_passes_the_declared_size(
    store: LocalBlobStore, http: httpx.AsyncClient
) -> None:
    target = await presign(store, sha256=None)
    body = CountingBody(BODY, endless=True)
    response = await http.put(target.url, content=body, headers=target.headers)
    assert_error(response, 413, "BAD_USER_INPUT")
    assert body.pulled == len(BODY) // CHUNK + 1
    assert files_under(store.root) == []


async def test_a_declared_length_over_the_size_is_refused_before_reading(
    store: LocalBlobStore, http: httpx.AsyncClient
) -> None:
    target = await presign(store, sha256=None)
    body = CountingBody(BODY + b"!")
    headers = {**target.headers, "Content-Length": str(len(BODY) + 1)}
    response = await http.put(target.url, content=body, headers=headers)
    assert_error(response, 413, "BAD_USER_INPUT")
    assert body.pulled == 0
    short = CountingBody(BODY[:-1])
    headers = {**target.headers, "Content-Length": str(len(BODY) - 1)}
    response = await http.put(target.url, content=short, headers=headers)
    assert_error(response, 400, "BAD_USER_INPUT")
    assert short.pulled == 0


# b"\xb2" is "²" in latin-1, how servers decode headers: str.isdigit() would accept it.
@pytest.mark.parametrize("content_length", [b"abc", b"-1", b"1e3", b"\xb2"])
async def test_a_malformed_content_length_is_refused(
    store: LocalBlobStore, http: httpx.AsyncClient, content_length: bytes
) -> None:
    target = await presign(store)
    headers = {name.encode(): value.encode() for name, value in target.headers.items()}
    headers[b"Content-Length"] = content_length
    response = await http.put(target.url, content=CountingBody(BODY), headers=headers)
    assert_error(response, 400, "BAD_USER_INPUT")
    assert files_under(store.root) == []


async def test_a_repeated_content_type_is_not_the_declared_one(
    store: LocalBlobStore, http: httpx.AsyncClient
) -> None:
    target = await presign(store)
    headers = [("Content-Type", "text/plain"), ("Content-Type", "text/plain")]
    headers.append(("x-amz-checksum-sha256", target.headers["x-amz-checksum-sha256"]))
    response = await http.put(target.url, content=BODY, headers=headers)
    assert_error(response, 400, "BAD_USER_INPUT")


async def test_an_abandoned_upload_leaves_nothing_behind(store: LocalBlobStore) -> None:
    target = await presign(store, sha256=None)
    path, _, query = target.url.removeprefix(BASE_URL).partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"content-type", b"text/plain"), (b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    incoming: list[Message] = [
        {"type": "http.request", "body": BODY[:CHUNK], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await build_blob_app(store)(scope, receive, send)
    assert sent[0]["status"] == 400
    assert await store.head(KEY) is None
    assert files_under(store.root) == []


async def test_a_large_chunked_upload_round_trips(
    store: LocalBlobStore, http: httpx.AsyncClient
) -> None:
    body = bytes(range(256)) * (3 * 4096 + 7)  # about 3 MiB: several write buffers
    target = await presign(store, body)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    response = await http.put(target.url, content=chunks(), headers=target.headers)
    assert response.status_code == 200, response.text
    url = await store.presign_download(KEY, filename="big.bin", expires_in=60)
    download = await http.get(url)
    assert download.content == body
    assert download.headers["content-length"] == str(len(body))


async def test_download_headers_keep_browsers_from_rendering_it(
    store: LocalBlobStore, http: httpx.AsyncClient
) -> None:
    body = b"<html><script>alert(1)</script></html>"
    target = await presign(store, body, content_type="text/html")
    assert (await http.put(target.url, content=body, headers=target.headers)).status_code == 200
    url = await store.presign_download(KEY, filename="page.html", expires_in=60)
    response = await http.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html"
    assert response.headers["content-disposition"].startswith('attachment; filename="page.html"')
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    assert "no-store" in response.headers["cache-control"]


async def test_head_on_a_download_url_answers_headers_only(
    store: LocalBlobStore, http: httpx.AsyncClient
) -> None:
    target = await presign(store)
    await http.put(target.url, content=BODY, headers=target.headers)
    url = await store.presign_download(KEY, filename="a.txt", expires_in=60)
    response = await http.head(url)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(BODY))
    assert response.headers["content-type"] == "text/plain"


@pytest.mark.parametrize("method", ["POST", "DELETE", "PATCH"])
async def test_other_methods_are_not_allowed(
    store: LocalBlobStore, http: httpx.AsyncClient, method: str
) -> None:
    target = await presign(store)
    response = await http.request(method, target.url, content=BODY, headers=target.headers)
    assert response.status_code == 405
    assert files_under(store.root) == []


def test_signatures_are_redacted_from_urls() -> None:
    local = "/blobs/files/x/blob?size=3&contentType=text%2Fplain&expires=9&signature=abc123"
    s3 = (
        "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Security-Token=IQo%2Bsecret"
        "&X-Amz-Signature=f00d&X-Amz-Date=1"
    )
    assert redact_signatures(local).endswith("&signature=REDACTED")
    assert redact_signatures(s3) == (
        "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Security-Token=REDACTED"
        "&X-Amz-Signature=REDACTED&X-Amz-Date=1"
    )
    assert redact_signatures("/graphql?x=1") == "/graphql?x=1"


def test_the_access_log_filter_redacts_uvicorn_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.uvicorn.access")
    logger.addFilter(SignatureRedactingFilter())
    with caplog.at_level(logging.INFO, logger=logger.name):
        # The shape of uvicorn's access log call.
        logger.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "PUT",
            "/blobs/files/x/blob?expires=9&signature=deadbeef",
            "1.1",
            200,
        )
    assert "deadbeef" not in caplog.text
    assert "signature=REDACTED" in caplog.text
