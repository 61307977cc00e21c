"""In-memory BlobStore: the fake for unit tests. It accepts and refuses exactly what the
real stores do (adapters/blobs/rules.py), and it enforces what it presigned: an upload through
its URL must carry the declared size, content type and SHA-256 before it is stored.

URLs use the ``memory://`` scheme: ``memory://upload/<key>?…`` (PUT) and
``memory://download/<key>?filename=…``. A test plays the client either directly
(``receive_upload``, ``open_download``), over HTTP through ``asgi_app`` (for example
``httpx.ASGITransport(app=store.asgi_app)``), or skips the URL with ``put_object``.

Every upload is unconfirmed until ``confirm``; ``confirmed`` holds the confirmed keys. The
fake has no lifecycle: a test reads ``unconfirmed()`` to see what a real store would expire.
"""

import hashlib
import json
import secrets
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
    MutableMapping,
    Sequence,
)
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from adapters.blobs.rules import (
    CHECKSUM_HEADER,
    DEFAULT_MAX_EXPIRY_SECONDS,
    WRITE_MISMATCH_MESSAGE,
    WRONG_PART_MESSAGE,
    check_content_type,
    check_expiry,
    check_filename,
    check_max_expiry,
    check_part_checksums,
    check_part_number,
    check_part_size,
    check_upload_id,
    check_upload_request,
    check_write_request,
    content_disposition,
    normalize_etag,
    part_checksum,
    part_etag,
    sha256_b64_to_hex,
    validate_key,
)
from domain.errors import DomainError, ForbiddenError, InvalidInputError, NotFoundError
from domain.ports import BlobInfo, PartTarget, StoredPart, UploadTarget

SCHEME = "memory"
READ_CHUNK_BYTES = 64 * 1024
FORBIDDEN_MESSAGE = "Invalid or expired signature"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class StoredBlob:
    data: bytes
    content_type: str


class BlobTooLargeError(InvalidInputError):
    """The body is longer than declared (HTTP 413, like the local store)."""


@dataclass
class _Multipart:
    key: str
    content_type: str
    parts: dict[int, tuple[bytes, str]]  # part number -> (bytes, ETag)


NO_SUCH_UPLOAD_MESSAGE = "No such upload: it was completed, aborted or has expired"


class InMemoryBlobStore:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        max_expiry: int = DEFAULT_MAX_EXPIRY_SECONDS,
    ) -> None:
        self.objects: dict[str, StoredBlob] = {}
        self.confirmed: set[str] = set()  # always a subset of objects' keys
        self._clock = clock
        self._max_expiry = check_max_expiry(max_expiry)
        # What each URL handed out allows, by its unguessable token: the fake's stand-in
        # for a signature. Changing anything else in the URL voids it.
        self._grants: dict[str, dict[str, str]] = {}
        self.multipart: dict[str, _Multipart] = {}  # open multipart uploads by upload id

    # --- BlobStore ---

    async def presign_upload(
        self, key: str, *, size: int, content_type: str, sha256: str | None, expires_in: int
    ) -> UploadTarget:
        request = check_upload_request(
            key,
            size=size,
            content_type=content_type,
            sha256=sha256,
            expires_in=expires_in,
            max_expiry=self._max_expiry,
        )
        expires = int(self._clock()) + request.expires_in
        query = {
            "size": str(request.size),
            "contentType": request.content_type,
            "expires": str(expires),
        }
        if request.sha256 is not None:
            query["sha256"] = request.sha256
        return UploadTarget(
            url=self._grant("upload", request.key, query),
            method="PUT",
            fields={},
            headers=request.put_headers(),
            expires_at=datetime.fromtimestamp(expires, UTC),
        )

    async def presign_download(self, key: str, *, filename: str, expires_in: int) -> str:
        key = validate_key(key)
        filename = check_filename(filename)
        expires = int(self._clock()) + check_expiry(expires_in, self._max_expiry)
        return self._grant("download", key, {"filename": filename, "expires": str(expires)})

    async def head(self, key: str) -> BlobInfo | None:
        blob = self.objects.get(validate_key(key))
        if blob is None:
            return None
        return BlobInfo(len(blob.data), blob.content_type, hashlib.sha256(blob.data).hexdigest())

    async def delete(self, key: str) -> None:
        key = validate_key(key)
        self.objects.pop(key, None)
        self.confirmed.discard(key)

    async def copy(self, source_key: str, dest_key: str) -> None:
        blob = self.objects.get(validate_key(source_key))
        validate_key(dest_key)
        if blob is None:
            raise NotFoundError("Blob not found")
        self.objects[dest_key] = blob
        if source_key in self.confirmed:
            self.confirmed.add(dest_key)
        else:
            self.confirmed.discard(dest_key)

    async def confirm(self, key: str) -> None:
        key = validate_key(key)
        if key not in self.objects:
            raise NotFoundError("Blob not found")
        self.confirmed.add(key)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        blob = self.objects.get(validate_key(key))
        if blob is None:
            raise NotFoundError("Blob not found")
        # Chunked like the real stores, so callers meet more than one chunk in unit tests.
        for start in range(0, len(blob.data), READ_CHUNK_BYTES):
            yield blob.data[start : start + READ_CHUNK_BYTES]

    async def write(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str, sha256: str
    ) -> None:
        key, content_type, expected = check_write_request(
            key, content_type=content_type, sha256=sha256
        )
        data = bytearray()
        async for chunk in chunks:
            data += chunk
        if hashlib.sha256(data).hexdigest() != expected:
            raise InvalidInputError(WRITE_MISMATCH_MESSAGE)
        self.objects[key] = StoredBlob(bytes(data), content_type)
        self.confirmed.add(key)

    async def ping(self) -> None:
        return None

    async def start_multipart(
        self, key: str, *, content_type: str, part_checksums: bool = False
    ) -> str:
        # Unlike S3, nothing to fix up front: each part URL carries its own checksum.
        upload_id = secrets.token_urlsafe(18)
        self.multipart[upload_id] = _Multipart(
            validate_key(key), check_content_type(content_type), {}
        )
        return upload_id

    async def presign_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        size: int,
        expires_in: int,
        sha256: str | None = None,
    ) -> PartTarget:
        self._open_upload(key, upload_id)
        sha256, headers = part_checksum(sha256)
        query = {
            "uploadId": upload_id,
            "partNumber": str(check_part_number(part_number)),
            "size": str(check_part_size(size)),
            "expires": str(int(self._clock()) + check_expiry(expires_in, self._max_expiry)),
        }
        if sha256 is not None:
            query["sha256"] = sha256
        return PartTarget(
            part_number=part_number,
            url=self._grant("part", validate_key(key), query),
            method="PUT",
            headers=headers,
            expires_at=datetime.fromtimestamp(int(query["expires"]), UTC),
        )

    async def uploaded_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        upload = self._open_upload(key, upload_id)
        return [
            StoredPart(number, len(data), etag, hashlib.sha256(data).hexdigest())
            for number, (data, etag) in sorted(upload.parts.items())
        ]

    async def complete_multipart(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[tuple[int, str]],
        *,
        checksums: Mapping[int, str] | None = None,
    ) -> BlobInfo:
        upload = self._open_upload(key, upload_id)
        numbers = [number for number, _ in parts]
        if not parts or numbers != sorted(set(numbers)):
            raise InvalidInputError(WRONG_PART_MESSAGE)
        recorded = {n: hashlib.sha256(data).hexdigest() for n, (data, _) in upload.parts.items()}
        check_part_checksums(parts, checksums, recorded)
        data = bytearray()
        for number, etag in parts:
            stored = upload.parts.get(number)
            if stored is None or normalize_etag(stored[1]) != normalize_etag(etag):
                raise InvalidInputError(WRONG_PART_MESSAGE)
            data += stored[0]
        del self.multipart[upload_id]
        self._store(upload.key, StoredBlob(bytes(data), upload.content_type))
        return BlobInfo(len(data), upload.content_type, hashlib.sha256(data).hexdigest())

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        upload = self.multipart.get(check_upload_id(upload_id))
        if upload is not None and upload.key == validate_key(key):
            del self.multipart[upload_id]

    def _open_upload(self, key: str, upload_id: str) -> _Multipart:
        upload = self.multipart.get(check_upload_id(upload_id))
        if upload is None or upload.key != validate_key(key):
            raise NotFoundError(NO_SUCH_UPLOAD_MESSAGE)
        return upload

    def receive_part(self, url: str, body: bytes, headers: Mapping[str, str]) -> str:
        """A part sent to ``url``; answers its ETag. Stores nothing unless the URL allows
        exactly these bytes into a still open upload."""
        key, grant = self._redeem(url, "part")
        upload = self.multipart.get(grant["uploadId"])
        if upload is None or upload.key != key:
            raise NotFoundError(NO_SUCH_UPLOAD_MESSAGE)
        if len(body) > int(grant["size"]):
            raise BlobTooLargeError("Body is larger than the part's size")
        if len(body) < int(grant["size"]):
            raise InvalidInputError("Body is smaller than the part's size")
        checksum = {name.lower(): value for name, value in headers.items()}.get(CHECKSUM_HEADER)
        signed = grant.get("sha256")
        if signed is not None and (checksum is None or sha256_b64_to_hex(checksum) != signed):
            # S3: the header is signed into the URL; anything else fails the signature.
            raise ForbiddenError(FORBIDDEN_MESSAGE)
        if checksum is not None and sha256_b64_to_hex(checksum) != hashlib.sha256(body).hexdigest():
            raise InvalidInputError("Body does not match x-amz-checksum-sha256")
        etag = part_etag(hashlib.md5(body, usedforsecurity=False).hexdigest())
        upload.parts[int(grant["partNumber"])] = (bytes(body), etag)
        return etag

    def unconfirmed(self) -> set[str]:
        """Keys a real store's lifecycle would eventually remove."""
        return set(self.objects) - self.confirmed

    # --- what a client does with the URLs ---

    def put_object(self, key: str, data: bytes, content_type: str) -> None:
        """Store bytes as if a client had uploaded them (unconfirmed), with no URL and no
        checks of a declaration: for tests that want the stored object to differ from it."""
        self._store(validate_key(key), StoredBlob(bytes(data), check_content_type(content_type)))

    def receive_upload(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        """An upload sent to ``url``; stores nothing unless it is what the URL allows."""
        key, grant = self._redeem(url, "upload")
        sent = {name.lower(): value for name, value in headers.items()}
        if sent.get("content-type") != grant["contentType"]:
            raise InvalidInputError("Content-Type must be exactly the declared content type")
        if len(body) > int(grant["size"]):
            raise BlobTooLargeError("Body is larger than the declared size")
        if len(body) < int(grant["size"]):
            raise InvalidInputError("Body is smaller than the declared size")
        digest = hashlib.sha256(body).hexdigest()
        checksum = sent.get(CHECKSUM_HEADER)
        if checksum is not None and sha256_b64_to_hex(checksum) != digest:
            raise InvalidInputError("Body does not match x-amz-checksum-sha256")
        if grant.get("sha256", digest) != digest:
            raise InvalidInputError("Body does not match the declared SHA-256")
        self._store(key, StoredBlob(bytes(body), grant["contentType"]))

    def open_download(self, url: str) -> tuple[StoredBlob, str]:
        """The blob and the Content-Disposition a GET of ``url`` answers with."""
        key, grant = self._redeem(url, "download")
        blob = self.objects.get(key)
        if blob is None:
            raise NotFoundError("Blob not found")
        return blob, content_disposition(grant["filename"])

    async def asgi_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The URLs over HTTP: PUT memory://upload/<key>, GET memory://download/<key>."""
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        url = f"{SCHEME}://{host}{scope['path']}?{scope['query_string'].decode('latin-1')}"
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            if scope["method"] == "PUT" and host == "upload":
                self.receive_upload(url, await _read_body(receive), headers)
                await _respond(send, 200, b"{}", [(b"content-type", b"application/json")])
                return
            if scope["method"] == "PUT" and host == "part":
                etag = self.receive_part(url, await _read_body(receive), headers)
                await _respond(send, 200, b"", [(b"etag", etag.encode())])
                return
            if scope["method"] == "GET" and host == "download":
                blob, disposition = self.open_download(url)
                reply = [(b"content-type", blob.content_type.encode())]
                reply.append((b"content-disposition", disposition.encode("ascii")))
                await _respond(send, 200, blob.data, reply)
                return
            raise NotFoundError("Not found")
        except DomainError as exc:
            await _respond_error(send, exc)

    def _store(self, key: str, blob: StoredBlob) -> None:
        self.objects[key] = blob
        self.confirmed.discard(key)  # a new upload is unconfirmed, whatever it replaced

    # --- grants ---

    def _grant(self, kind: str, key: str, query: dict[str, str]) -> str:
        now = self._clock()
        self._grants = {t: g for t, g in self._grants.items() if int(g["expires"]) >= now}
        token = secrets.token_urlsafe(16)
        self._grants[token] = {"kind": kind, "key": key, **query}
        return f"{SCHEME}://{kind}/{key}?{urlencode({**query, 'token': token})}"

    def _redeem(self, url: str, kind: str) -> tuple[str, dict[str, str]]:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        grant = self._grants.get(query.pop("token", ""))
        key = parts.path.lstrip("/")
        if (
            parts.scheme != SCHEME
            or parts.netloc != kind
            or grant is None
            or {"kind": kind, "key": key, **query} != grant
            or self._clock() > int(grant["expires"])
        ):
            raise ForbiddenError(FORBIDDEN_MESSAGE)
        return validate_key(key), grant


async def _read_body(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return bytes(body)


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _respond_error(send: Send, exc: DomainError) -> None:
    status = {"FORBIDDEN": 403, "NOT_FOUND": 404}.get(exc.code, 400)
    if isinstance(exc, BlobTooLargeError):
        status = 413
    error = {"code": exc.code, "message": str(exc), "requestId": secrets.token_hex(8)}
    body = json.dumps({"error": error}).encode()
    await _respond(send, status, body, [(b"content-type", b"application/json")])
