"""One BlobStore contract, run against the local folder and S3 (moto), each over real HTTP
the way clients use them; then what only one backend can show: the local store's own
enforcement of signed uploads, and the S3 POST policy that S3 (not moto) enforces."""

import asyncio
import email.message
import email.utils
import hashlib
import json
import os
import socket
import stat
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from botocore.config import Config

from adapters.blobs.local.files import BlobFiles
from adapters.blobs.local.signing import BlobSigningKeyError, load_or_create_signing_key
from adapters.blobs.local.store import LocalBlobStore
from adapters.blobs.rules import MAX_BLOB_SIZE, sha256_hex_to_b64
from adapters.blobs.s3 import PENDING_TAGGING_XML, S3BlobStore, decode_post_policy
from domain.errors import ConflictError, InvalidInputError, NotFoundError, StoreUnavailableError
from domain.ports import BlobStore, UploadTarget
from ops.aws_resources import create_bucket, resources
from tests.support import blob_backends
from tests.support.blob_backends import (
    SIGNING_KEY,
    BlobBackend,
    LocalParts,
    build_blob_app,
    files_under,
    send_upload,
    sigv4_s3_client,
    tag_as_real_s3_would,
    upload_state,
)
from tests.support.moto_server import REGION, s3_client, unique_name

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The backend fixtures, bound here so pytest finds them.
blob_backend = blob_backends.blob_backend
local_backend = blob_backends.local_backend
s3_backend = blob_backends.s3_backend
local_blob_server = blob_backends.local_blob_server

KEY = "files/f-123/blob"
OTHER_KEY = "files/f-456/blob"
BODY = b"%PDF-1.7 not really a pdf\n" * 40
PDF = "application/pdf"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def upload(
    backend: BlobBackend,
    body: bytes = BODY,
    *,
    key: str = KEY,
    content_type: str = PDF,
    declare_sha256: bool = True,
) -> UploadTarget:
    target = await backend.store.presign_upload(
        key,
        size=len(body),
        content_type=content_type,
        sha256=sha256_hex(body) if declare_sha256 else None,
        expires_in=300,
    )
    response = await send_upload(backend.http, target, body)
    assert response.is_success, response.text
    return target


async def download(backend: BlobBackend, key: str = KEY, filename: str = "x.pdf") -> httpx.Response:
    url = await backend.store.presign_download(key, filename=filename, expires_in=60)
    return await backend.http.get(url)


def filename_star(content_disposition: str) -> str:
    """The RFC 5987 ``filename*`` as the standard library's RFC 2231 parser reads it."""
    message = email.message.Message()
    message["Content-Disposition"] = content_disposition
    params = message.get_params(header="content-disposition") or []
    encoded = [value for _, value in params if isinstance(value, tuple)]
    assert len(encoded) == 1, content_disposition
    return email.utils.collapse_rfc2231_value(encoded[0])


# --- the contract ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "declare_sha256"),
    [
        (BODY, True),
        (BODY, False),
        (b"", True),
        (os.urandom(700 * 1024), True),  # several request and read chunks
    ],
    ids=["declared-sha", "no-sha", "empty", "700KiB"],
)
async def test_uploaded_bytes_are_described_by_head_and_downloaded_intact(
    blob_backend: BlobBackend, body: bytes, declare_sha256: bool
) -> None:
    await upload(blob_backend, body, declare_sha256=declare_sha256)

    info = await blob_backend.store.head(KEY)
    assert info is not None
    assert (info.size, info.content_type) == (len(body), PDF)
    if blob_backend.records_upload_sha256:
        assert info.sha256 == sha256_hex(body)
    else:
        assert info.sha256 in (None, sha256_hex(body))

    response = await download(blob_backend)
    assert response.status_code == 200
    assert response.content == body
    assert response.headers["content-type"] == PDF


@pytest.mark.parametrize(
    "filename",
    ['résumé "final".pdf', "a/b;c=d.txt", "日本語 (1) 100%.txt", "back\\slash\r\n.txt"],
)
async def test_download_is_an_attachment_with_the_exact_name(
    blob_backend: BlobBackend, filename: str
) -> None:
    await upload(blob_backend)
    response = await download(blob_backend, filename=filename)
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert disposition.isascii()
    assert filename_star(disposition) == filename
    fallback = email.message.Message()
    fallback["Content-Disposition"] = disposition
    plain = fallback.get_param("filename", header="content-disposition")
    assert isinstance(plain, str) and plain.isascii()
    assert not set(plain) & set('/\\"%\r\n')


async def test_a_second_upload_to_a_key_is_refused_where_the_store_can_refuse(
    blob_backend: BlobBackend,
) -> None:
    await upload(blob_backend, b"first version")
    second = b"second, longer version"
    target = await blob_backend.store.presign_upload(
        KEY, size=len(second), content_type="text/plain", sha256=None, expires_in=300
    )
    response = await send_upload(blob_backend.http, target, second)
    info = await blob_backend.store.head(KEY)
    assert info is not None
    if blob_backend.local is not None:
        # The local endpoint is ours, so it refuses: an upload key is written at most once.
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "CONFLICT"
        assert "already holds bytes" in response.json()["error"]["message"]
        assert (info.size, info.content_type) == (13, PDF)
        assert (await download(blob_backend)).content == b"first version"
    else:
        # S3 cannot refuse a second POST to a key (nor does the fake): the files never
        # serve an upload key, they copy it to a ready key when completing.
        assert response.is_success, response.text
        assert (info.size, info.content_type) == (22, "text/plain")
        assert (await download(blob_backend)).content == second


async def test_head_of_a_missing_blob_is_none(blob_backend: BlobBackend) -> None:
    assert await blob_backend.store.head(KEY) is None


async def test_delete_removes_and_is_idempotent(blob_backend: BlobBackend) -> None:
    await upload(blob_backend)
    await upload(blob_backend, key=OTHER_KEY)
    await blob_backend.store.delete(KEY)
    assert await blob_backend.store.head(KEY) is None
    # S3 says 403 rather than 404 to a caller without s3:ListBucket (and moto always does).
    assert (await download(blob_backend)).status_code in (403, 404)
    await blob_backend.store.delete(KEY)
    await blob_backend.store.delete("files/never-existed/blob")
    assert await blob_backend.store.head(OTHER_KEY) is not None


async def test_copy_duplicates_bytes_and_metadata(blob_backend: BlobBackend) -> None:
    await upload(blob_backend)
    await blob_backend.store.copy(KEY, OTHER_KEY)
    copied = await blob_backend.store.head(OTHER_KEY)
    assert copied is not None
    assert (copied.size, copied.content_type, copied.sha256) == (len(BODY), PDF, sha256_hex(BODY))
    assert (await download(blob_backend, OTHER_KEY)).content == BODY
    assert (await download(blob_backend, KEY)).content == BODY


async def test_copy_over_an_existing_blob_replaces_it(blob_backend: BlobBackend) -> None:
    await upload(blob_backend)
    await upload(blob_backend, b"old", key=OTHER_KEY, content_type="text/plain")
    await blob_backend.store.copy(KEY, OTHER_KEY)
    assert (await download(blob_backend, OTHER_KEY)).content == BODY


async def test_copy_of_a_missing_blob_is_not_found(blob_backend: BlobBackend) -> None:
    with pytest.raises(NotFoundError):
        await blob_backend.store.copy(KEY, OTHER_KEY)
    assert await blob_backend.store.head(OTHER_KEY) is None


# --- the lifecycle of the bytes: uploads are pending until confirmed -------------------


async def pending_upload(backend: BlobBackend, body: bytes = BODY, key: str = KEY) -> None:
    """An upload through its target, tagged pending as the real store would tag it."""
    await upload(backend, body, key=key)
    await tag_as_real_s3_would(backend, key)


async def test_an_upload_is_pending_until_confirmed(blob_backend: BlobBackend) -> None:
    await upload(blob_backend)
    if blob_backend.records_upload_tags:
        assert await upload_state(blob_backend, KEY) == "pending"
    await blob_backend.store.confirm(KEY)
    assert await upload_state(blob_backend, KEY) == "confirmed"
    # Confirming changes nothing else about the blob.
    info = await blob_backend.store.head(KEY)
    assert info is not None and (info.size, info.content_type) == (len(BODY), PDF)
    assert (await download(blob_backend)).content == BODY


async def test_confirm_is_idempotent(blob_backend: BlobBackend) -> None:
    await pending_upload(blob_backend)
    await blob_backend.store.confirm(KEY)
    await blob_backend.store.confirm(KEY)
    await asyncio.gather(*(blob_backend.store.confirm(KEY) for _ in range(5)))
    assert await upload_state(blob_backend, KEY) == "confirmed"
    assert (await download(blob_backend)).content == BODY


async def test_confirm_touches_only_its_own_key(blob_backend: BlobBackend) -> None:
    await pending_upload(blob_backend)
    await pending_upload(blob_backend, key=OTHER_KEY)
    await blob_backend.store.confirm(KEY)
    assert await upload_state(blob_backend, OTHER_KEY) == "pending"


async def test_confirm_of_a_missing_blob_is_not_found(blob_backend: BlobBackend) -> None:
    with pytest.raises(NotFoundError):
        await blob_backend.store.confirm(KEY)
    assert await blob_backend.store.head(KEY) is None
    await upload(blob_backend)
    await blob_backend.store.delete(KEY)
    with pytest.raises(NotFoundError):
        await blob_backend.store.confirm(KEY)


async def test_a_new_upload_over_a_confirmed_blob_is_pending_again(
    blob_backend: BlobBackend,
) -> None:
    await upload(blob_backend)
    await blob_backend.store.confirm(KEY)
    if blob_backend.local is not None:
        # The local endpoint refuses it outright: the confirmed blob stays as it was.
        response = await send_upload(blob_backend.http, await presign(blob_backend), BODY)
        assert response.status_code == 409
        assert await upload_state(blob_backend, KEY) == "confirmed"
        return
    await pending_upload(blob_backend, b"replacement")
    assert await upload_state(blob_backend, KEY) == "pending"


async def test_a_copy_is_confirmed_exactly_when_its_source_is(blob_backend: BlobBackend) -> None:
    third = "files/f-789/blob"
    await pending_upload(blob_backend)
    await blob_backend.store.copy(KEY, OTHER_KEY)
    assert await upload_state(blob_backend, OTHER_KEY) == "pending"
    await blob_backend.store.confirm(KEY)
    await blob_backend.store.copy(KEY, third)
    assert await upload_state(blob_backend, third) == "confirmed"
    # Over a confirmed target, a pending source's state wins too.
    fourth = "files/f-000/blob"
    await pending_upload(blob_backend, b"other", key=fourth)
    await blob_backend.store.copy(fourth, third)
    assert await upload_state(blob_backend, third) == "pending"
    assert await upload_state(blob_backend, KEY) == "confirmed"


@pytest.mark.parametrize("expires_in", [0, -1, 3601, 10**9, True, 1.5, "60", None])
async def test_expiry_outside_the_bounds_is_refused(
    blob_backend: BlobBackend, expires_in: object
) -> None:
    store = blob_backend.store
    with pytest.raises(InvalidInputError):
        await store.presign_upload(
            KEY,
            size=1,
            content_type=PDF,
            sha256=None,
            expires_in=expires_in,  # type: ignore[arg-type]
        )
    with pytest.raises(InvalidInputError):
        await store.presign_download(KEY, filename="x", expires_in=expires_in)  # type: ignore[arg-type]


async def test_expiry_at_the_bounds_is_accepted(blob_backend: BlobBackend) -> None:
    for expires_in in (1, 3600):
        before = datetime.now(UTC)
        target = await blob_backend.store.presign_upload(
            KEY, size=1, content_type=PDF, sha256=None, expires_in=expires_in
        )
        assert target.expires_at.tzinfo is not None
        expected = before + timedelta(seconds=expires_in)
        assert abs(target.expires_at - expected) <= timedelta(seconds=2)
        assert await blob_backend.store.presign_download(KEY, filename="x", expires_in=expires_in)


BAD_KEYS = [
    "",
    "../x",
    "/abs",
    "files/../../x",
    "files/./x",
    "files//x",
    "files/x/",
    ".hidden",
    "files/.x.meta.json",
    "files/a b",
    "files/ключ",
    "files\\x",
    "x" * 513,
    None,
]


@pytest.mark.parametrize("key", BAD_KEYS, ids=[repr(key)[:20] for key in BAD_KEYS])
async def test_invalid_keys_are_refused_everywhere(blob_backend: BlobBackend, key: object) -> None:
    store = blob_backend.store
    bad: str = key  # type: ignore[assignment]
    calls = [
        store.presign_upload(bad, size=1, content_type=PDF, sha256=None, expires_in=60),
        store.presign_download(bad, filename="x", expires_in=60),
        store.head(bad),
        store.delete(bad),
        store.copy(bad, KEY),
        store.copy(KEY, bad),
        store.confirm(bad),
    ]
    for call in calls:
        with pytest.raises(InvalidInputError):
            await call


@pytest.mark.parametrize(
    ("size", "content_type", "sha256"),
    [
        (-1, PDF, None),
        (MAX_BLOB_SIZE + 1, PDF, None),
        (True, PDF, None),
        (1, "", None),
        (1, "pdf", None),
        (1, "text/html\r\nSet-Cookie: a=b", None),
        (1, "text/plain; charset=\x7f", None),
        (1, PDF, "abc"),
        (1, PDF, "g" * 64),
        (1, PDF, sha256_hex_to_b64("0" * 64)),
    ],
)
async def test_invalid_declarations_are_refused(
    blob_backend: BlobBackend, size: int, content_type: str, sha256: str | None
) -> None:
    with pytest.raises(InvalidInputError):
        await blob_backend.store.presign_upload(
            KEY, size=size, content_type=content_type, sha256=sha256, expires_in=60
        )


async def test_uppercase_sha256_is_accepted(blob_backend: BlobBackend) -> None:
    target = await blob_backend.store.presign_upload(
        KEY, size=len(BODY), content_type=PDF, sha256=sha256_hex(BODY).upper(), expires_in=60
    )
    assert (await send_upload(blob_backend.http, target, BODY)).is_success


async def test_ping_succeeds(blob_backend: BlobBackend) -> None:
    await blob_backend.store.ping()


# --- read and write: the streaming pair backups and restores use -----------------------


async def chunked(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read_all(store: BlobStore, key: str = KEY) -> tuple[bytes, int]:
    """The bytes read back, and the largest chunk they came in."""
    data, largest = bytearray(), 0
    async for chunk in store.read(key):
        data += chunk
        largest = max(largest, len(chunk))
    return bytes(data), largest


@pytest.mark.parametrize(
    "body", [BODY, b"", os.urandom(700 * 1024)], ids=["small", "empty", "700KiB"]
)
async def test_written_bytes_are_confirmed_and_read_back_in_chunks(
    blob_backend: BlobBackend, body: bytes
) -> None:
    store = blob_backend.store
    await store.write(KEY, chunked(body), content_type=PDF, sha256=sha256_hex(body))
    data, largest = await read_all(store)
    assert data == body
    assert largest <= 1024 * 1024  # streamed, never the whole of a large object at once
    info = await store.head(KEY)
    assert info is not None and (info.size, info.content_type) == (len(body), PDF)
    assert info.sha256 in (None, sha256_hex(body))
    assert await upload_state(blob_backend, KEY) == "confirmed"
    assert (await download(blob_backend)).content == body


async def test_a_write_that_does_not_match_its_sha256_changes_nothing(
    blob_backend: BlobBackend,
) -> None:
    store = blob_backend.store
    with pytest.raises(InvalidInputError):
        await store.write(KEY, chunked(BODY), content_type=PDF, sha256=sha256_hex(b"x"))
    assert await store.head(KEY) is None
    await store.write(KEY, chunked(BODY), content_type=PDF, sha256=sha256_hex(BODY))
    with pytest.raises(InvalidInputError):
        await store.write(KEY, chunked(b"other"), content_type=PDF, sha256=sha256_hex(BODY))
    assert (await read_all(store))[0] == BODY
    if blob_backend.local is not None:
        assert not [p for p in files_under(blob_backend.local.root) if p.name.endswith(".tmp")]


async def test_a_write_replaces_an_upload_and_confirms_it(blob_backend: BlobBackend) -> None:
    await pending_upload(blob_backend)
    store = blob_backend.store
    await store.write(
        KEY, chunked(b"restored"), content_type="text/plain", sha256=sha256_hex(b"restored")
    )
    assert (await read_all(store))[0] == b"restored"
    assert await upload_state(blob_backend, KEY) == "confirmed"


async def test_reading_a_missing_blob_is_not_found(blob_backend: BlobBackend) -> None:
    with pytest.raises(NotFoundError):
        await read_all(blob_backend.store)


@pytest.mark.parametrize("key", ["../escaped", "", "files//blob"])
async def test_read_and_write_refuse_invalid_keys(blob_backend: BlobBackend, key: str) -> None:
    with pytest.raises(InvalidInputError):
        await read_all(blob_backend.store, key)
    with pytest.raises(InvalidInputError):
        await blob_backend.store.write(
            key, chunked(BODY), content_type=PDF, sha256=sha256_hex(BODY)
        )


async def test_a_reader_closed_early_releases_the_blob(blob_backend: BlobBackend) -> None:
    body = os.urandom(700 * 1024)
    await blob_backend.store.write(KEY, chunked(body), content_type=PDF, sha256=sha256_hex(body))
    reader = blob_backend.store.read(KEY)
    first = await anext(reader)
    assert body.startswith(first)
    await reader.aclose()  # type: ignore[attr-defined]
    await blob_backend.store.delete(KEY)
    assert await blob_backend.store.head(KEY) is None


# --- local: the store enforces what it signed -----------------------------------------


def local(backend: BlobBackend) -> LocalParts:
    assert backend.local is not None
    return backend.local


def with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


async def assert_refused(
    backend: BlobBackend, response: httpx.Response, status: int, code: str
) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["requestId"]
    assert await backend.store.head(KEY) is None
    assert files_under(local(backend).root) == []


async def presign(backend: BlobBackend, body: bytes = BODY, **overrides: object) -> UploadTarget:
    declared: dict[str, object] = {
        "size": len(body),
        "content_type": PDF,
        "sha256": sha256_hex(body),
        "expires_in": 300,
    } | overrides
    return await backend.store.presign_upload(KEY, **declared)  # type: ignore[arg-type]


async def test_local_upload_target_is_a_signed_put(local_backend: BlobBackend) -> None:
    target = await presign(local_backend)
    assert target.method == "PUT" and target.fields == {}
    assert target.headers == {
        "Content-Type": PDF,
        "x-amz-checksum-sha256": sha256_hex_to_b64(sha256_hex(BODY)),
    }
    assert target.url.startswith(f"{local(local_backend).base_url}/blobs/{KEY}?")
    without_sha = await presign(local_backend, sha256=None)
    assert without_sha.headers == {"Content-Type": PDF}


async def test_local_refuses_a_body_longer_than_declared(local_backend: BlobBackend) -> None:
    target = await presign(local_backend, sha256=None)
    response = await send_upload(local_backend.http, target, BODY + b"x")
    await assert_refused(local_backend, response, 413, "BAD_USER_INPUT")


async def test_local_refuses_a_body_shorter_than_declared(local_backend: BlobBackend) -> None:
    target = await presign(local_backend, sha256=None)
    response = await send_upload(local_backend.http, target, BODY[:-1])
    await assert_refused(local_backend, response, 400, "BAD_USER_INPUT")


async def chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize(("body", "status"), [(BODY + b"extra", 413), (BODY[:-5], 400)])
async def test_local_counts_chunked_bodies_too(
    local_backend: BlobBackend, body: bytes, status: int
) -> None:
    target = await presign(local_backend, sha256=None)
    response = await local_backend.http.put(
        target.url, content=chunks(body), headers=target.headers
    )
    assert "content-length" not in response.request.headers
    await assert_refused(local_backend, response, status, "BAD_USER_INPUT")


async def test_local_accepts_a_chunked_body_of_the_declared_size(
    local_backend: BlobBackend,
) -> None:
    target = await presign(local_backend)
    response = await local_backend.http.put(
        target.url, content=chunks(BODY), headers=target.headers
    )
    assert response.status_code == 200, response.text
    assert (await download(local_backend)).content == BODY


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/PDF", "application/pdf; charset=utf-8", None]
)
async def test_local_refuses_another_content_type(
    local_backend: BlobBackend, content_type: str | None
) -> None:
    target = await presign(local_backend)
    headers = {**target.headers, "Content-Type": content_type or ""}
    if content_type is None:
        del headers["Content-Type"]
    response = await local_backend.http.put(target.url, content=BODY, headers=headers)
    await assert_refused(local_backend, response, 400, "BAD_USER_INPUT")


async def test_local_refuses_a_body_with_another_sha256(local_backend: BlobBackend) -> None:
    target = await presign(local_backend)
    tampered = BODY[:-1] + b"?"
    response = await send_upload(local_backend.http, target, tampered)
    await assert_refused(local_backend, response, 400, "BAD_USER_INPUT")


async def test_local_checks_a_checksum_header_like_s3(local_backend: BlobBackend) -> None:
    target = await presign(local_backend)
    other = sha256_hex_to_b64(sha256_hex(b"other"))
    response = await local_backend.http.put(
        target.url, content=BODY, headers={**target.headers, "x-amz-checksum-sha256": other}
    )
    await assert_refused(local_backend, response, 400, "BAD_USER_INPUT")
    # Undeclared, yet sent: the body must still match it.
    target = await presign(local_backend, sha256=None)
    response = await local_backend.http.put(
        target.url, content=BODY, headers={**target.headers, "x-amz-checksum-sha256": other}
    )
    await assert_refused(local_backend, response, 400, "BAD_USER_INPUT")


async def test_local_refuses_an_expired_upload_url(local_backend: BlobBackend) -> None:
    target = await presign(local_backend, expires_in=60)
    local(local_backend).clock.advance(61)
    response = await send_upload(local_backend.http, target, BODY)
    await assert_refused(local_backend, response, 403, "FORBIDDEN")


async def test_local_upload_url_works_until_it_expires(local_backend: BlobBackend) -> None:
    target = await presign(local_backend, expires_in=60)
    local(local_backend).clock.advance(59)
    assert (await send_upload(local_backend.http, target, BODY)).status_code == 200


@pytest.mark.parametrize(
    "changes",
    [
        {"size": str(len(BODY) + 1)},
        {"size": f"0{len(BODY)}"},
        {"contentType": "text/html"},
        {"sha256": None},
        {"sha256": sha256_hex(b"other")},
        {"expires": "99999999999"},
        {"expires": None},
        {"signature": "0" * 64},
        {"signature": None},
    ],
    ids=lambda changes: "-".join(f"{k}={v}"[:24] for k, v in changes.items()),
)
async def test_local_refuses_a_tampered_upload_url(
    local_backend: BlobBackend, changes: dict[str, str | None]
) -> None:
    target = await presign(local_backend)
    body = BODY + b"x" if "size" in changes and changes["size"] != f"0{len(BODY)}" else BODY
    headers = {**target.headers}
    if changes.get("contentType"):
        headers["Content-Type"] = "text/html"
    if "sha256" in changes:
        del headers["x-amz-checksum-sha256"]
    response = await local_backend.http.put(
        with_query(target.url, **changes), content=body, headers=headers
    )
    await assert_refused(local_backend, response, 403, "FORBIDDEN")
    assert response.json()["error"]["message"] == "Invalid or expired signature"


async def test_local_refuses_an_upload_url_moved_to_another_key(
    local_backend: BlobBackend,
) -> None:
    target = await presign(local_backend)
    moved = with_path(target.url, f"/blobs/{OTHER_KEY}")
    response = await send_upload(local_backend.http, target, BODY, url=moved)
    await assert_refused(local_backend, response, 403, "FORBIDDEN")
    assert await local_backend.store.head(OTHER_KEY) is None


@pytest.mark.parametrize(
    "path",
    [
        "/blobs/files/f-123/%2E%2E/%2E%2E/%2E%2E/escaped",
        "/blobs/..%2F..%2Fescaped",
        "/blobs/%2Fetc%2Fescaped",
        "/blobs/files%5C..%5C..%5Cescaped",
    ],
)
async def test_local_refuses_path_traversal_in_the_url(
    local_backend: BlobBackend, path: str
) -> None:
    target = await presign(local_backend)
    response = await send_upload(local_backend.http, target, BODY, url=with_path(target.url, path))
    assert response.status_code in (400, 403, 404), response.text
    await assert_refused(
        local_backend, response, response.status_code, response.json()["error"]["code"]
    )
    assert files_under(local(local_backend).root.parent) == []


@pytest.mark.parametrize("key", ["../escaped", "files/../../escaped", "/tmp/escaped", ".x"])
async def test_local_refuses_a_traversal_key_even_with_a_valid_signature(
    local_backend: BlobBackend, key: str
) -> None:
    # Presigning refuses such keys; this forges the signature to reach the file layer.
    parts = local(local_backend)
    query = parts.signer.upload_query(
        key, size=len(BODY), content_type=PDF, sha256=None, expires=int(parts.clock.seconds()) + 60
    )
    # Fully escaped, so that no client or router tidies the dots away before the store.
    url = f"{parts.base_url}/blobs/{quote(key, safe='')}?{urlencode(query)}"
    response = await local_backend.http.put(url, content=BODY, headers={"Content-Type": PDF})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"] == "Invalid blob key"
    assert files_under(parts.root.parent) == []
    assert not await asyncio.to_thread(Path("/tmp/escaped").exists)


async def test_local_refuses_to_follow_a_symlink_out_of_the_root(
    local_backend: BlobBackend, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (local(local_backend).root / "files").symlink_to(outside, target_is_directory=True)
    target = await presign(local_backend)
    response = await send_upload(local_backend.http, target, BODY)
    assert response.status_code == 400, response.text
    assert list(outside.iterdir()) == []
    with pytest.raises(InvalidInputError):
        await local_backend.store.head(KEY)


async def test_local_rejected_reupload_keeps_the_old_blob(local_backend: BlobBackend) -> None:
    await upload(local_backend, b"keep me", content_type="text/plain")
    before = sorted(path.name for path in files_under(local(local_backend).root))
    target = await presign(local_backend, b"replacement")
    response = await send_upload(local_backend.http, target, b"replacement, too long")
    # Refused for the key already holding bytes, before the body is judged at all.
    assert response.status_code == 409
    assert (await download(local_backend)).content == b"keep me"
    assert sorted(path.name for path in files_under(local(local_backend).root)) == before


async def test_local_download_url_expires(local_backend: BlobBackend) -> None:
    await upload(local_backend)
    url = await local_backend.store.presign_download(KEY, filename="x.pdf", expires_in=60)
    local(local_backend).clock.advance(61)
    response = await local_backend.http.get(url)
    assert response.status_code == 403 and response.json()["error"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    "changes",
    [{"filename": "evil.html"}, {"expires": "99999999999"}, {"signature": None}],
    ids=["filename", "expires", "no-signature"],
)
async def test_local_refuses_a_tampered_download_url(
    local_backend: BlobBackend, changes: dict[str, str | None]
) -> None:
    await upload(local_backend)
    url = await local_backend.store.presign_download(KEY, filename="x.pdf", expires_in=60)
    response = await local_backend.http.get(with_query(url, **changes))
    assert response.status_code == 403
    moved = with_path(url, f"/blobs/{OTHER_KEY}")
    await upload(local_backend, key=OTHER_KEY)
    assert (await local_backend.http.get(moved)).status_code == 403


async def test_local_signatures_do_not_cross_methods(local_backend: BlobBackend) -> None:
    target = await presign(local_backend)
    response = await local_backend.http.get(target.url)  # download with the upload signature
    assert response.status_code == 403
    await upload(local_backend)
    url = await local_backend.store.presign_download(KEY, filename="x.pdf", expires_in=60)
    response = await local_backend.http.put(url, content=b"x", headers={"Content-Type": PDF})
    assert response.status_code == 403
    assert (await download(local_backend)).content == BODY


async def test_local_download_headers(local_backend: BlobBackend) -> None:
    await upload(local_backend, b"<script>alert(1)</script>", content_type="text/html")
    response = await download(local_backend, filename="page.html")
    assert response.headers["content-type"] == "text/html"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-length"] == "25"
    assert response.headers["content-disposition"].startswith("attachment;")


async def test_local_missing_blob_with_a_valid_url_is_404(local_backend: BlobBackend) -> None:
    response = await download(local_backend)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_local_files_are_private_and_named_by_key(local_backend: BlobBackend) -> None:
    await upload(local_backend)
    root = local(local_backend).root
    assert (root / KEY).read_bytes() == BODY
    assert stat.S_IMODE((root / KEY).stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "files").stat().st_mode) == 0o700
    names = sorted(path.name for path in files_under(root))
    assert names == [".blob.meta.json", "blob"]


async def test_local_delete_prunes_emptied_directories(local_backend: BlobBackend) -> None:
    await upload(local_backend)
    await local_backend.store.delete(KEY)
    root = local(local_backend).root
    assert root.is_dir() and list(root.iterdir()) == []


async def test_local_concurrent_uploads_of_one_key_leave_one_whole_blob(
    local_backend: BlobBackend,
) -> None:
    bodies = [bytes([n]) * (200_000 + n) for n in range(6)]
    targets = [await presign(local_backend, body) for body in bodies]
    responses = await asyncio.gather(
        *(send_upload(local_backend.http, t, b) for t, b in zip(targets, bodies, strict=True))
    )
    # An upload key is written once: exactly one racer wins, every other one is told.
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [409] * (len(bodies) - 1)
    winner = bodies[[response.status_code for response in responses].index(200)]
    info = await local_backend.store.head(KEY)
    assert info is not None
    assert (await download(local_backend)).content == winner
    assert (info.size, info.sha256) == (len(winner), sha256_hex(winner))
    assert len(files_under(local(local_backend).root)) == 2


async def test_local_publishing_where_a_blob_already_is_loses_whole(tmp_path: Path) -> None:
    # Two uploads that both passed the early check race to publish: link(2) lets one in.
    files = BlobFiles(tmp_path)
    first, second = files.create(KEY), files.create(KEY)
    first.write(b"first bytes")
    second.write(b"other bytes")
    first.commit("text/plain", uploaded_at=1.0, exclusive=True)
    with pytest.raises(ConflictError):
        second.commit("text/plain", uploaded_at=2.0, exclusive=True)
    second.abort()
    info = files.head(KEY)
    assert info is not None and info.sha256 == sha256_hex(b"first bytes")
    assert files.paths(KEY).data.read_bytes() == b"first bytes"
    assert len(files_under(tmp_path)) == 2  # no temporary file left behind


async def test_local_ping_fails_without_a_writable_root(tmp_path: Path) -> None:
    store = LocalBlobStore(
        tmp_path / "missing", base_url="http://127.0.0.1:1", signing_key=SIGNING_KEY
    )
    with pytest.raises(StoreUnavailableError):
        await store.ping()
    store.prepare()
    await store.ping()


async def test_local_io_failures_are_reported_without_paths(
    local_blob_server: object, tmp_path: Path
) -> None:
    root = tmp_path / "not-a-dir"
    root.write_bytes(b"a file where the blob folder should be")
    store = LocalBlobStore(root, base_url="http://127.0.0.1:1", signing_key=SIGNING_KEY)
    with pytest.raises(StoreUnavailableError) as raised:
        await store.ping()
    target = await store.presign_upload(KEY, size=1, content_type=PDF, sha256=None, expires_in=60)
    transport = httpx.ASGITransport(app=build_blob_app(store))
    async with httpx.AsyncClient(transport=transport) as http:
        response = await send_upload(http, target, b"x")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_SERVER_ERROR"
    for text in (str(raised.value), response.text):
        assert str(tmp_path) not in text and "Errno" not in text


def test_local_store_refuses_a_bad_configuration(tmp_path: Path) -> None:
    for base_url in ("127.0.0.1:8000", "ftp://x", "http://x/?a=1", ""):
        with pytest.raises(ValueError, match="base_url"):
            LocalBlobStore(tmp_path, base_url=base_url, signing_key=SIGNING_KEY)
    with pytest.raises(ValueError, match="signing key"):
        LocalBlobStore(tmp_path, base_url="http://x", signing_key=b"short")
    with pytest.raises(ValueError, match="max_expiry"):
        LocalBlobStore(tmp_path, base_url="http://x", signing_key=SIGNING_KEY, max_expiry=0)


def test_signing_key_is_created_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "blob-signing.key"
    key = load_or_create_signing_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_signing_key(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["blob-signing.key"]


def test_signing_key_survives_racing_creators(tmp_path: Path) -> None:
    path = tmp_path / "blob-signing.key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: load_or_create_signing_key(path), range(16)))
    assert len(keys) == 1


@pytest.mark.parametrize("content", [b"", b"not hex", b"abcd", b"\xff\xfe"])
def test_an_unusable_signing_key_file_is_never_replaced(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "blob-signing.key"
    path.write_bytes(content)
    with pytest.raises(BlobSigningKeyError, match=r"blob-signing\.key"):
        load_or_create_signing_key(path)
    assert path.read_bytes() == content


# --- local: sweeping unconfirmed uploads ---------------------------------------------


def meta_of(parts: LocalParts, key: str) -> dict[str, object]:
    data = parts.root.joinpath(*key.split("/"))
    loaded: dict[str, object] = json.loads(data.with_name(f".{data.name}.meta.json").read_bytes())
    return loaded


async def test_local_metadata_records_upload_time_and_confirmation(
    local_backend: BlobBackend,
) -> None:
    parts = local(local_backend)
    await upload(local_backend)
    meta = meta_of(parts, KEY)
    assert meta["confirmed"] is False and meta["uploadedAt"] == parts.clock.seconds()
    parts.clock.advance(10)
    await local_backend.store.confirm(KEY)
    meta = meta_of(parts, KEY)
    assert meta["confirmed"] is True and meta["uploadedAt"] == parts.clock.seconds() - 10
    assert stat.S_IMODE((parts.root / KEY).with_name(".blob.meta.json").stat().st_mode) == 0o600
    assert sorted(path.name for path in files_under(parts.root)) == [".blob.meta.json", "blob"]


async def test_local_sweep_removes_only_old_unconfirmed_uploads(
    local_backend: BlobBackend,
) -> None:
    store, parts = local_backend.store, local(local_backend)
    assert isinstance(store, LocalBlobStore)
    old_pending, old_confirmed, fresh_pending = KEY, OTHER_KEY, "files/f-789/blob"
    await upload(local_backend, key=old_pending)
    await upload(local_backend, key=old_confirmed)
    await store.confirm(old_confirmed)
    parts.clock.advance(100)
    await upload(local_backend, key=fresh_pending)
    parts.clock.advance(1)

    assert await store.sweep_unconfirmed(50) == 1
    assert await store.head(old_pending) is None
    assert not (parts.root / "files" / "f-123").exists()  # emptied directories pruned
    assert (await download(local_backend, old_confirmed)).content == BODY
    assert (await download(local_backend, fresh_pending)).content == BODY
    assert await store.sweep_unconfirmed(50) == 0

    parts.clock.advance(100)
    assert await store.sweep_unconfirmed(50) == 1
    assert await store.head(fresh_pending) is None
    assert await store.sweep_unconfirmed(0) == 0
    assert await upload_state(local_backend, old_confirmed) == "confirmed"
    assert sorted(path.relative_to(parts.root) for path in files_under(parts.root)) == [
        Path("files/f-456/.blob.meta.json"),
        Path("files/f-456/blob"),
    ]


async def test_local_sweep_spares_an_upload_exactly_at_the_threshold(
    local_backend: BlobBackend,
) -> None:
    store, parts = local_backend.store, local(local_backend)
    assert isinstance(store, LocalBlobStore)
    await upload(local_backend)
    parts.clock.advance(50)
    assert await store.sweep_unconfirmed(50) == 0
    parts.clock.advance(0.5)
    assert await store.sweep_unconfirmed(50) == 1


async def test_local_copy_dates_from_the_copy(local_backend: BlobBackend) -> None:
    store, parts = local_backend.store, local(local_backend)
    assert isinstance(store, LocalBlobStore)
    await upload(local_backend)
    parts.clock.advance(100)
    await store.copy(KEY, OTHER_KEY)
    assert await store.sweep_unconfirmed(50) == 1
    assert await store.head(KEY) is None and await store.head(OTHER_KEY) is not None


async def test_local_sweep_never_removes_metadata_from_before_confirmation_existed(
    local_backend: BlobBackend,
) -> None:
    store, parts = local_backend.store, local(local_backend)
    assert isinstance(store, LocalBlobStore)
    await upload(local_backend)
    meta_path = (parts.root / KEY).with_name(".blob.meta.json")
    legacy = {"contentType": PDF, "size": len(BODY), "sha256": sha256_hex(BODY)}
    meta_path.write_text(json.dumps(legacy))
    parts.clock.advance(10**6)
    assert await store.sweep_unconfirmed(0) == 0
    assert (await download(local_backend)).content == BODY
    await store.confirm(KEY)  # already counts as confirmed: nothing to rewrite
    assert json.loads(meta_path.read_text()) == legacy


async def test_local_sweep_leaves_files_it_cannot_read_alone(local_backend: BlobBackend) -> None:
    store, parts = local_backend.store, local(local_backend)
    assert isinstance(store, LocalBlobStore)
    await upload(local_backend)
    await upload(local_backend, key=OTHER_KEY)
    (parts.root / KEY).with_name(".blob.meta.json").write_text("{not json")
    (parts.root / "files" / "stray").write_bytes(b"no metadata")
    before = files_under(parts.root)
    parts.clock.advance(100)
    assert await store.sweep_unconfirmed(50) == 1
    assert files_under(parts.root) == [p for p in before if "f-456" not in str(p)]


async def test_local_sweep_races_deletes_and_confirms_safely(local_backend: BlobBackend) -> None:
    store, parts = local_backend.store, local(local_backend)
    assert isinstance(store, LocalBlobStore)
    keys = [f"files/f-{n}/blob" for n in range(40)]
    for key in keys:
        await upload(local_backend, key=key)
    parts.clock.advance(100)
    deleted, confirming = keys[:20], keys[20:]

    async def confirm(key: str) -> bool:
        try:
            await store.confirm(key)
        except NotFoundError:
            return False
        return True

    sweeps, _, confirms = await asyncio.gather(
        asyncio.gather(store.sweep_unconfirmed(50), store.sweep_unconfirmed(50)),
        asyncio.gather(*(store.delete(key) for key in deleted)),
        asyncio.gather(*(confirm(key) for key in confirming)),
    )
    swept = sum(sweeps)
    confirmed = dict(zip(confirming, confirms, strict=True))
    assert swept <= len(keys)
    for key in deleted:
        assert await store.head(key) is None
    for key, was_confirmed in confirmed.items():
        # Whatever the interleaving: a successful confirm means the bytes are kept.
        assert (await store.head(key) is not None) == was_confirmed, key
    assert swept >= sum(not ok for ok in confirmed.values())
    assert await store.sweep_unconfirmed(50) == 0


@pytest.mark.parametrize("threshold", [-1, float("nan"), True, "60"])
async def test_local_sweep_refuses_a_bad_threshold(
    local_backend: BlobBackend, threshold: object
) -> None:
    store = local_backend.store
    assert isinstance(store, LocalBlobStore)
    with pytest.raises(ValueError, match="older_than_seconds"):
        await store.sweep_unconfirmed(threshold)  # type: ignore[arg-type]


async def test_local_confirm_of_a_blob_without_its_bytes_is_not_found(
    local_backend: BlobBackend,
) -> None:
    await upload(local_backend)
    (local(local_backend).root / KEY).unlink()
    with pytest.raises(NotFoundError):
        await local_backend.store.confirm(KEY)


# --- S3: the policy S3 enforces (moto does not) ---------------------------------------


def s3_target_policy(target: UploadTarget) -> dict[str, object]:
    assert target.method == "POST" and target.headers == {}
    return decode_post_policy(target.fields)


def condition_values(policy: dict[str, object]) -> dict[str, object]:
    """Exact-match conditions by field name (lowercased); other kinds listed under '*'."""
    exact: dict[str, object] = {}
    other: list[object] = []
    conditions = policy["conditions"]
    assert isinstance(conditions, list)
    for condition in conditions:
        if isinstance(condition, dict):
            ((name, value),) = condition.items()
            assert name.lower() not in exact, f"duplicate condition for {name}"
            exact[name.lower()] = value
        else:
            other.append(condition)
    exact["*"] = other
    return exact


@pytest.mark.slow
async def test_s3_policy_pins_key_size_type_and_checksum(s3_backend: BlobBackend) -> None:
    before = datetime.now(UTC)
    target = await presign(s3_backend, expires_in=300)
    policy = s3_target_policy(target)
    conditions = condition_values(policy)
    assert s3_backend.s3 is not None
    assert conditions["bucket"] == s3_backend.s3.bucket
    assert conditions["key"] == KEY
    assert conditions["content-type"] == PDF
    assert conditions["x-amz-checksum-sha256"] == sha256_hex_to_b64(sha256_hex(BODY))
    assert conditions["x-amz-checksum-algorithm"] == "SHA256"
    assert conditions["tagging"] == PENDING_TAGGING_XML
    assert conditions["*"] == [["content-length-range", len(BODY), len(BODY)]]
    expiration = datetime.fromisoformat(str(policy["expiration"]).replace("Z", "+00:00"))
    assert before + timedelta(seconds=298) <= expiration <= before + timedelta(seconds=302)
    assert target.expires_at == expiration
    # S3 refuses a form field that no condition covers, and every covered field must be
    # sent with exactly the value the policy pins.
    unsigned = {"policy", "x-amz-signature", "file"}
    for name, value in target.fields.items():
        if name.lower() not in unsigned:
            assert conditions[name.lower()] == value, name


@pytest.mark.slow
async def test_s3_policy_without_a_declared_checksum(s3_backend: BlobBackend) -> None:
    target = await presign(s3_backend, size=0, sha256=None)
    conditions = condition_values(s3_target_policy(target))
    assert "x-amz-checksum-sha256" not in conditions
    assert "x-amz-checksum-sha256" not in target.fields
    assert conditions["*"] == [["content-length-range", 0, 0]]
    assert conditions["tagging"] == target.fields["tagging"] == PENDING_TAGGING_XML


@pytest.mark.slow
async def test_s3_upload_form_tags_the_object_pending(s3_backend: BlobBackend) -> None:
    target = await presign(s3_backend)
    assert target.fields["tagging"] == (
        "<Tagging><TagSet><Tag><Key>upload</Key><Value>pending</Value></Tag></TagSet></Tagging>"
    )
    # The exact-match condition is what keeps a client from dropping or changing the tag.
    assert {"tagging": PENDING_TAGGING_XML} in s3_target_policy(target)["conditions"]  # type: ignore[operator]


@pytest.mark.slow
async def test_s3_confirm_replaces_the_pending_tag(s3_backend: BlobBackend) -> None:
    assert s3_backend.s3 is not None
    client, bucket = s3_backend.s3.client, s3_backend.s3.bucket
    client.put_object(Bucket=bucket, Key=KEY, Body=BODY, ContentType=PDF, Tagging="upload=pending")
    assert client.get_object_tagging(Bucket=bucket, Key=KEY)["TagSet"] == [
        {"Key": "upload", "Value": "pending"}
    ]
    await s3_backend.store.confirm(KEY)
    assert client.get_object_tagging(Bucket=bucket, Key=KEY)["TagSet"] == [
        {"Key": "upload", "Value": "confirmed"}
    ]


@pytest.mark.slow
async def test_s3_bucket_lifecycle_expires_pending_uploads(s3_backend: BlobBackend) -> None:
    assert s3_backend.s3 is not None
    client = sigv4_s3_client(s3_backend.s3.endpoint)
    bucket = unique_name("lifecycle")
    create_bucket(client, bucket, REGION)
    rules = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rules == resources()["bucket"]["lifecycle"]["Rules"]
    [rule] = [rule for rule in rules if rule.get("ID") == "expire-unconfirmed-uploads"]
    assert rule["Status"] == "Enabled"
    assert rule.get("Filter") == {"Tag": {"Key": "upload", "Value": "pending"}}
    assert rule.get("Expiration") == {"Days": 2}
    # The bucket is versioned: expiring leaves the bytes as a noncurrent version.
    assert rule.get("NoncurrentVersionExpiration") == {"NoncurrentDays": 1}


@pytest.mark.slow
async def test_s3_head_reads_a_whole_object_checksum(s3_backend: BlobBackend) -> None:
    assert s3_backend.s3 is not None
    client, bucket = s3_backend.s3.client, s3_backend.s3.bucket
    client.put_object(Bucket=bucket, Key=KEY, Body=BODY, ChecksumAlgorithm="SHA256")
    info = await s3_backend.store.head(KEY)
    assert info is not None and info.sha256 == sha256_hex(BODY)


@pytest.mark.slow
async def test_s3_head_ignores_a_composite_multipart_checksum(s3_backend: BlobBackend) -> None:
    assert s3_backend.s3 is not None
    client, bucket = s3_backend.s3.client, s3_backend.s3.bucket
    upload_id = client.create_multipart_upload(
        Bucket=bucket,
        Key=KEY,
        ContentType=PDF,
        ChecksumAlgorithm="SHA256",
        ChecksumType="COMPOSITE",
    )["UploadId"]
    part = client.upload_part(
        Bucket=bucket,
        Key=KEY,
        UploadId=upload_id,
        PartNumber=1,
        Body=BODY,
        ChecksumAlgorithm="SHA256",
    )
    client.complete_multipart_upload(
        Bucket=bucket,
        Key=KEY,
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": part["ETag"], "ChecksumSHA256": part["ChecksumSHA256"]}
            ]
        },
    )
    info = await s3_backend.store.head(KEY)
    assert info is not None and (info.size, info.sha256) == (len(BODY), None)


@pytest.mark.slow
async def test_s3_write_of_a_large_blob_streams_a_multipart_upload(
    s3_backend: BlobBackend,
) -> None:
    body = os.urandom(9 * 1024 * 1024)  # beyond one PutObject part: two multipart parts
    store = s3_backend.store
    with pytest.raises(InvalidInputError):
        await store.write(KEY, chunked(body, 1024 * 1024), content_type=PDF, sha256=sha256_hex(b""))
    assert await store.head(KEY) is None
    assert (
        s3_client_of(s3_backend)
        .list_multipart_uploads(Bucket=bucket_of(s3_backend))
        .get("Uploads", [])
        == []
    )
    await store.write(KEY, chunked(body, 1024 * 1024), content_type=PDF, sha256=sha256_hex(body))
    assert (await read_all(store))[0] == body
    assert await upload_state(s3_backend, KEY) == "confirmed"


def s3_client_of(backend: BlobBackend) -> "S3Client":
    assert backend.s3 is not None
    return backend.s3.client


def bucket_of(backend: BlobBackend) -> str:
    assert backend.s3 is not None
    return backend.s3.bucket


@pytest.mark.slow
def test_s3_store_refuses_a_client_that_presigns_with_sigv2() -> None:
    # botocore's default for us-east-1 presigning: what tests/support/moto_server.s3_client builds.
    with pytest.raises(ValueError, match="SigV4"):
        S3BlobStore(s3_client("http://127.0.0.1:9"), "bucket-name")


@pytest.mark.slow
async def test_s3_failures_carry_no_aws_details(s3_backend: BlobBackend) -> None:
    assert s3_backend.s3 is not None
    missing_bucket = unique_name("no-such-bucket")
    store = S3BlobStore(sigv4_s3_client(s3_backend.s3.endpoint), missing_bucket)
    with pytest.raises(StoreUnavailableError) as raised:
        await store.ping()
    assert missing_bucket not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


async def test_s3_unreachable_endpoint_is_store_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = sigv4_s3_client(
        f"http://127.0.0.1:{closed_port}",
        Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1),
    )
    store = S3BlobStore(client, "bucket-name")
    calls = (store.ping(), store.head(KEY), store.delete(KEY), store.copy(KEY, OTHER_KEY))
    for call in (*calls, store.confirm(KEY)):
        with pytest.raises(StoreUnavailableError):
            await call


def test_local_head_of_a_blob_does_not_wait_for_another_blobs_confirm_on_a_slow_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = BlobFiles(tmp_path)
    for key in (KEY, "other/key.bin"):
        pending = files.create(key)
        pending.write(b"bytes of " + key.encode())
        pending.commit("text/plain", uploaded_at=1.0)
    confirming, release = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        # The confirming thread's fsyncs hang until released: a disk that stalls.
        if threading.current_thread().name == "confirmer":
            confirming.set()
            release.wait(10)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    confirmer = threading.Thread(target=files.confirm, args=(KEY,), name="confirmer")
    confirmer.start()
    try:
        assert confirming.wait(5)
        with ThreadPoolExecutor(1) as pool:
            info = pool.submit(files.head, "other/key.bin").result(timeout=2)
        assert info is not None and info.sha256 == sha256_hex(b"bytes of other/key.bin")
    finally:
        release.set()
        confirmer.join(10)
    record = files._read_record(files.paths(KEY))
    assert record is not None and record.confirmed


def test_local_confirm_never_overwrites_a_reupload_made_while_it_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = BlobFiles(tmp_path)
    first = files.create(KEY)
    first.write(b"first bytes")
    first.commit("text/plain", uploaded_at=1.0)
    real_fsync = os.fsync
    replaced: list[bool] = []

    def reupload_during_the_first_fsync(fd: int) -> None:
        real_fsync(fd)
        if not replaced:
            replaced.append(True)
            second = files.create(KEY)
            second.write(b"second, longer bytes")
            second.commit("text/plain", uploaded_at=2.0)

    monkeypatch.setattr(os, "fsync", reupload_during_the_first_fsync)
    files.confirm(KEY)
    monkeypatch.setattr(os, "fsync", real_fsync)
    record = files._read_record(files.paths(KEY))
    # The confirmation went to the blob that is there now, never the old blob's metadata.
    assert record is not None and record.confirmed and record.uploaded_at == 2.0
    assert record.info.sha256 == sha256_hex(b"second, longer bytes")
    assert files.paths(KEY).data.read_bytes() == b"second, longer bytes"
    assert len(files_under(tmp_path)) == 2  # no temporary file left behind


def _stored(files: BlobFiles, key: str, body: bytes, *, confirmed: bool = False) -> None:
    pending = files.create(key)
    pending.write(body)
    pending.commit("text/plain", uploaded_at=1.0, confirmed=confirmed)


def _counting_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real_fsync = os.fsync

    def counted(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counted)
    return calls


READY_KEY = "files/f-123/ready-1"


def test_local_copy_of_an_upload_links_its_bytes_and_syncs_only_at_confirm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = BlobFiles(tmp_path)
    _stored(files, KEY, b"uploaded bytes")
    fsyncs = _counting_fsyncs(monkeypatch)
    files.copy(KEY, READY_KEY, now=2.0)
    # An unconfirmed copy needs no durability of its own: no fsync, and no second copy
    # of the bytes (one inode, two names).
    assert fsyncs == []
    source, copy = files.paths(KEY), files.paths(READY_KEY)
    assert os.stat(source.data).st_ino == os.stat(copy.data).st_ino
    record = files._read_record(copy)
    assert record is not None and not record.confirmed and record.uploaded_at == 2.0
    files.confirm(READY_KEY)
    assert len(fsyncs) == 2  # the confirmed metadata, then the directory with the link
    record = files._read_record(copy)
    assert record is not None and record.confirmed
    assert len(files_under(tmp_path)) == 4  # two blobs, no temporary file left behind


def test_local_copy_of_a_confirmed_blob_is_durable_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = BlobFiles(tmp_path)
    _stored(files, KEY, b"kept bytes", confirmed=True)
    fsyncs = _counting_fsyncs(monkeypatch)
    files.copy(KEY, READY_KEY, now=2.0)
    assert len(fsyncs) == 2  # its metadata and the directory
    record = files._read_record(files.paths(READY_KEY))
    assert record is not None and record.confirmed


def test_local_copy_keeps_its_bytes_when_the_source_is_replaced_or_deleted(
    tmp_path: Path,
) -> None:
    files = BlobFiles(tmp_path)
    _stored(files, KEY, b"first bytes")
    files.copy(KEY, READY_KEY, now=2.0)
    files.delete(KEY)
    _stored(files, KEY, b"other, longer bytes")
    _stored(files, KEY, b"and others again")
    assert files.paths(READY_KEY).data.read_bytes() == b"first bytes"
    info = files.head(READY_KEY)
    assert info is not None and info.sha256 == sha256_hex(b"first bytes")


def test_local_copy_goes_by_bytes_where_links_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = BlobFiles(tmp_path)
    _stored(files, KEY, b"uploaded bytes")

    def refuse(*_: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", refuse)
    files.copy(KEY, READY_KEY, now=2.0)
    source, copy = files.paths(KEY), files.paths(READY_KEY)
    assert os.stat(source.data).st_ino != os.stat(copy.data).st_ino
    assert copy.data.read_bytes() == b"uploaded bytes"
    assert files.head(READY_KEY) == files.head(KEY)
    assert len(files_under(tmp_path)) == 4


def test_local_copy_of_a_missing_blob_is_not_found_and_leaves_nothing(tmp_path: Path) -> None:
    files = BlobFiles(tmp_path)
    _stored(files, OTHER_KEY, b"another file")
    with pytest.raises(NotFoundError):
        files.copy(KEY, READY_KEY, now=2.0)
    assert len(files_under(tmp_path)) == 2


@pytest.mark.parametrize("operation", ["head", "copy", "delete"])
async def test_local_blob_calls_never_wait_for_the_lock_on_the_event_loop(
    local_backend: BlobBackend, operation: str
) -> None:
    store = local_backend.store
    assert isinstance(store, LocalBlobStore)
    await upload(local_backend)
    calls: dict[str, Callable[..., Awaitable[object]]] = {
        "head": store.head,
        "copy": store.copy,
        "delete": store.delete,
    }
    lock = store._files._lock
    lock.acquire()  # as a thread publishing or deleting another blob holds it
    try:
        keys = (KEY, READY_KEY) if operation == "copy" else (KEY,)
        pending = asyncio.ensure_future(calls[operation](*keys))
        await asyncio.sleep(0.05)  # the loop runs on meanwhile: the call waits on a worker
        assert not pending.done()
    finally:
        lock.release()
    await pending
    info = await store.head(keys[-1])
    if operation == "delete":
        assert info is None
    else:
        assert info is not None and info.sha256 == sha256_hex(BODY)


async def test_local_head_copy_and_delete_of_an_upload_run_on_the_event_loop_when_the_lock_is_free(
    local_backend: BlobBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # completeUpload asks for the upload's head, copies it to its READY key and deletes it:
    # a stat and a read, a link and a metadata file, two unlinks, no fsync: no trip to a
    # worker thread, whose answer would wait in the loop's queue behind other requests.
    store = local_backend.store
    assert isinstance(store, LocalBlobStore)
    await upload(local_backend)
    trips: list[object] = []
    real_to_thread = asyncio.to_thread

    async def counted(func: Callable[..., object], *args: object, **kwargs: object) -> object:
        trips.append(func)
        return await real_to_thread(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    fsyncs = _counting_fsyncs(monkeypatch)
    info = await store.head(KEY)
    assert info is not None and info.sha256 == sha256_hex(BODY)
    assert await store.head(OTHER_KEY) is None
    await store.copy(KEY, READY_KEY)
    assert trips == [] and fsyncs == []
    assert await store.head(READY_KEY) == info
    await store.delete(KEY)  # then the upload's: two unlinks
    assert trips == [] and await store.head(KEY) is None
    assert (await read_all(store, READY_KEY))[0] == BODY
    # A copy of a confirmed blob is durable at once: its fsyncs go to a worker thread.
    await store.confirm(READY_KEY)
    trips.clear()
    await store.copy(READY_KEY, KEY)
    assert len(trips) == 1 and len(fsyncs) == 4
    assert (await read_all(store, KEY))[0] == BODY
