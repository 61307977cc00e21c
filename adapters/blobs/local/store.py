"""The local blob store: file bytes in a folder, moved by clients through signed,
expiring URLs served by the app's own ``/blobs`` routes — the local twin of S3 presigned
URLs, enforcing exactly what the S3 POST policy would.

The URLs are signed by signing.py; the folder layout and its files are
files.py's.

Lifecycle of the bytes, the local twin of the S3 bucket's rule for ``upload=pending``
objects: every upload is stored unconfirmed, ``confirm`` marks it kept, and
``sweep_unconfirmed`` (run by the operator: at start-up and from the CLI) deletes
unconfirmed uploads older than a threshold.
"""

import asyncio
import logging
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, ParamSpec, Protocol, TypeVar
from urllib.parse import urlencode, urlsplit

from adapters.blobs.local.files import (
    BUSY,
    NOT_FOUND_MESSAGE,
    OCCUPIED_MESSAGE,
    READ_CHUNK_BYTES,
    UNAVAILABLE_MESSAGE,
    BlobFiles,
)
from adapters.blobs.local.parts import PartFiles, PendingPart
from adapters.blobs.local.signing import FORBIDDEN_MESSAGE, SignedUpload, UrlSigner
from adapters.blobs.rules import (
    DEFAULT_MAX_EXPIRY_SECONDS,
    WRITE_MISMATCH_MESSAGE,
    check_content_type,
    check_expiry,
    check_filename,
    check_max_expiry,
    check_part_number,
    check_part_size,
    check_upload_id,
    check_upload_request,
    check_write_request,
    content_disposition,
    part_checksum,
    sha256_b64_to_hex,
    validate_key,
)
from domain.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
)
from domain.ports import BlobInfo, PartTarget, StoredPart, UploadTarget

logger = logging.getLogger(__name__)

BLOBS_PATH = "/blobs"  # where the app mounts api.blob_routes; the URLs below point there
CLOSED_MESSAGE = "This upload is closed: its file is no longer waiting for bytes"
# Request chunks are small (~64 KiB); batching them makes one thread hop per MiB.
WRITE_BUFFER_BYTES = 1024 * 1024
# A part's chunks go to the thread in batches: at most two (one being written, one
# arriving) per part upload in memory.
PART_BATCH_BYTES = 2 * 1024 * 1024

P = ParamSpec("P")
T = TypeVar("T")


class BlobTooLargeError(InvalidInputError):
    """The body is longer than the declared size (HTTP 413 rather than 400)."""


async def _in_thread(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking file work off the event loop; no OSError (with its paths) escapes."""
    try:
        return await asyncio.to_thread(func, *args, **kwargs)
    except OSError as exc:
        logger.warning("local blobs: I/O failed: %s (%s)", type(exc).__name__, exc.strerror)
        raise StoreUnavailableError(UNAVAILABLE_MESSAGE) from None


def _on_loop(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """A few file-system calls made on the event loop (a ``BlobFiles`` ``*_if_free``
    method: it never waits for the lock); no OSError (with its paths) escapes."""
    try:
        return func(*args, **kwargs)
    except OSError as exc:
        logger.warning("local blobs: I/O failed: %s (%s)", type(exc).__name__, exc.strerror)
        raise StoreUnavailableError(UNAVAILABLE_MESSAGE) from None


@dataclass(frozen=True, slots=True)
class IncomingUpload:
    """The parts of an upload request the store judges; the HTTP layer fills it in."""

    key: str
    query: Mapping[str, str]
    content_type: str | None  # None when absent (or sent more than once)
    content_length: int | None  # None when the body is chunked
    checksum_sha256: str | None  # the x-amz-checksum-sha256 header, when sent


class BlobDownload:
    """An open blob, ready to stream; close it (aclose or by exhausting iter_bytes)."""

    def __init__(self, file: BinaryIO, info: BlobInfo, filename: str) -> None:
        self._file = file
        self.info = info
        self.filename = filename

    @property
    def content_disposition(self) -> str:
        return content_disposition(self.filename)

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        try:
            while chunk := await _in_thread(self._file.read, READ_CHUNK_BYTES):
                yield chunk
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        await asyncio.to_thread(self._file.close)


class LocalBlobStore:
    """BlobStore over a folder. ``base_url`` is how clients reach this app (scheme, host,
    port and any path prefix a reverse proxy adds, e.g. ``https://example.org/api``): it
    is baked into every URL handed out, so it must be the outside view, not the bind
    address."""

    def __init__(
        self,
        root: Path,
        *,
        base_url: str,
        signing_key: bytes,
        clock: Callable[[], float] = time.time,
        max_expiry: int = DEFAULT_MAX_EXPIRY_SECONDS,
    ) -> None:
        self._files = BlobFiles(root)
        self._parts = PartFiles(self._files)
        self._base_url = _check_base_url(base_url)
        self._signer = UrlSigner(signing_key)
        self._clock = clock
        self._max_expiry = check_max_expiry(max_expiry)

    @property
    def root(self) -> Path:
        return self._files.root

    def prepare(self) -> None:
        """Create the root folder (0700) if missing. Blocking: for the composition root."""
        try:
            self._files.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            logger.warning("local blobs: cannot create the root folder (%s)", exc.strerror)
            raise StoreUnavailableError(UNAVAILABLE_MESSAGE) from None

    # --- BlobStore ---

    async def presign_upload(
        self,
        key: str,
        *,
        size: int,
        content_type: str,
        sha256: str | None,
        expires_in: int,
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
        query = self._signer.upload_query(
            request.key,
            size=request.size,
            content_type=request.content_type,
            sha256=request.sha256,
            expires=expires,
        )
        return UploadTarget(
            url=self._url(request.key, query),
            method="PUT",
            fields={},
            headers=request.put_headers(),
            expires_at=datetime.fromtimestamp(expires, UTC),
        )

    async def presign_download(self, key: str, *, filename: str, expires_in: int) -> str:
        key = validate_key(key)
        filename = check_filename(filename)
        expires = int(self._clock()) + check_expiry(expires_in, self._max_expiry)
        return self._url(key, self._signer.download_query(key, filename=filename, expires=expires))

    async def head(self, key: str) -> BlobInfo | None:
        validate_key(key)
        # A head is a stat and a read of a small metadata file, most often one just
        # written (an upload's, on completion): ~20 µs from the page cache, where a trip
        # to a worker thread waited its turn on a busy event loop twice (completeUpload
        # asks twice, the upload route once). A head that would wait for the lock (another
        # thread is publishing or deleting) goes to a worker thread, as before.
        found = _on_loop(self._files.head_if_free, key)
        if found is not BUSY:
            return found
        return await _in_thread(self._files.head, key)

    async def delete(self, key: str) -> None:
        validate_key(key)
        # Two unlinks and no fsync (a delete that a crash undoes leaves bytes the sweeper
        # removes), on the loop when the lock is free, as head. Freeing the metadata
        # file's inode may wait for the file system's journal (2.2 ms at the median under
        # the load mix at a load average of ~8, 40 µs alone), yet under that same load
        # this beat the trip to a worker: bench/README.md, Hot spots 54.
        if _on_loop(self._files.delete_if_free, key) is BUSY:
            await _in_thread(self._files.delete, key)

    async def copy(self, source_key: str, dest_key: str) -> None:
        validate_key(source_key)
        validate_key(dest_key)
        # completeUpload's copy of the unconfirmed upload is a link and a metadata file, no
        # fsync: made on the loop when it can be, as head (BlobFiles.copy_if_free).
        now = self._clock()
        if _on_loop(self._files.copy_if_free, source_key, dest_key, now=now) is BUSY:
            await _in_thread(self._files.copy, source_key, dest_key, now=now)

    async def confirm(self, key: str) -> None:
        validate_key(key)
        await _in_thread(self._files.confirm, key)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        validate_key(key)
        opened = await _in_thread(self._files.open_blob, key)
        if opened is None:
            raise NotFoundError(NOT_FOUND_MESSAGE)
        file, _ = opened
        try:
            while chunk := await _in_thread(file.read, READ_CHUNK_BYTES):
                yield chunk
        finally:
            await asyncio.to_thread(file.close)

    async def write(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str, sha256: str
    ) -> None:
        key, content_type, expected = check_write_request(
            key, content_type=content_type, sha256=sha256
        )
        # A body that fits one buffer (most restored files) is written, checked and
        # committed in one trip to a worker thread instead of three.
        body = aiter(chunks)
        head, whole = await _first_buffer(body, None)
        if whole:
            await _in_thread(
                self._write_whole,
                key,
                head,
                content_type,
                sha256=expected,
                mismatch=WRITE_MISMATCH_MESSAGE,
                confirmed=True,
            )
            return
        pending = await _in_thread(self._files.create, key)
        try:
            await _in_thread(pending.write, head)
            await _receive_into(pending, body, None)
            if pending.sha256 != expected:
                raise InvalidInputError(WRITE_MISMATCH_MESSAGE)
            await _in_thread(
                pending.commit, content_type, uploaded_at=self._clock(), confirmed=True
            )
        except BaseException:
            await asyncio.to_thread(pending.abort)
            raise

    def _write_whole(
        self,
        key: str,
        data: bytes,
        content_type: str,
        *,
        sha256: str | None,
        mismatch: str,
        confirmed: bool = False,
        exclusive: bool = False,
    ) -> BlobInfo:
        """Create, write, check and commit in one call, on a worker thread: the hash is
        worked out there too, never on the event loop."""
        pending = self._files.create(key)
        try:
            pending.write(data)
            if sha256 is not None and pending.sha256 != sha256:
                raise InvalidInputError(mismatch)
            return pending.commit(
                content_type, uploaded_at=self._clock(), confirmed=confirmed, exclusive=exclusive
            )
        except BaseException:
            pending.abort()
            raise

    async def ping(self) -> None:
        await _in_thread(self._files.ping)

    # --- multipart uploads ---

    async def start_multipart(
        self, key: str, *, content_type: str, part_checksums: bool = False
    ) -> str:
        # Unlike S3, nothing to fix up front: each part URL carries its own checksum.
        key, content_type = validate_key(key), check_content_type(content_type)
        return await _in_thread(self._parts.start, key, content_type, self._clock())

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
        key, upload_id = validate_key(key), check_upload_id(upload_id)
        sha256, headers = part_checksum(sha256)
        query = self._signer.part_query(
            key,
            upload_id=upload_id,
            part_number=check_part_number(part_number),
            size=check_part_size(size),
            sha256=sha256,
            expires=int(self._clock()) + check_expiry(expires_in, self._max_expiry),
        )
        return PartTarget(
            part_number=part_number,
            url=self._url(key, query),
            method="PUT",
            headers=headers,
            expires_at=datetime.fromtimestamp(int(query["expires"]), UTC),
        )

    async def uploaded_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        return await _in_thread(self._parts.parts, validate_key(key), check_upload_id(upload_id))

    async def complete_multipart(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[tuple[int, str]],
        *,
        checksums: Mapping[int, str] | None = None,
    ) -> BlobInfo:
        key, upload_id = validate_key(key), check_upload_id(upload_id)
        return await _in_thread(self._parts.complete, key, upload_id, list(parts), checksums)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        await _in_thread(self._parts.abort, validate_key(key), check_upload_id(upload_id))

    async def receive_part(self, upload: IncomingUpload, body: AsyncIterable[bytes]) -> StoredPart:
        """Store ``body`` as the part the URL's signature names if it is exactly the
        promised size (and matches x-amz-checksum-sha256 when sent); a part sent again
        replaces the earlier one. NotFoundError once the upload is closed."""
        signed = self._signer.verify_part(upload.key, upload.query, self._clock())
        key = validate_key(upload.key)
        await _in_thread(self._parts.open_upload, key, check_upload_id(signed.upload_id))
        if signed.sha256 is not None and (
            upload.checksum_sha256 is None
            or sha256_b64_to_hex(upload.checksum_sha256) != signed.sha256
        ):
            # As on S3, where the header is signed into the URL: any other fails the signature.
            raise ForbiddenError(FORBIDDEN_MESSAGE)
        expected_sha256 = _expected_sha256(
            SignedUpload(signed.size, "", signed.sha256), upload.checksum_sha256
        )
        if upload.content_length is not None and upload.content_length > signed.size:
            raise BlobTooLargeError("Body is larger than the part's size")
        if upload.content_length is not None and upload.content_length < signed.size:
            raise InvalidInputError("Body is smaller than the part's size")
        pending = await _in_thread(
            self._parts.create_part,
            signed.upload_id,
            signed.part_number,
            hash_part=expected_sha256 is not None,
            size=signed.size,
        )
        try:
            await _receive_part_into(pending, body, signed.size)
            if pending.size < signed.size:
                raise InvalidInputError("Body is smaller than the part's size")
            if expected_sha256 is not None and pending.sha256 != expected_sha256:
                raise InvalidInputError("Body does not match x-amz-checksum-sha256")
            return await _in_thread(pending.commit, signed.part_number)
        except BaseException:
            await asyncio.to_thread(pending.abort)
            raise

    # --- lifecycle ---

    async def sweep_unconfirmed(self, older_than_seconds: float) -> int:
        """Delete the unconfirmed uploads stored more than ``older_than_seconds`` ago (by
        this store's clock) and return how many; confirmed blobs are never touched. Walks
        the whole folder in a worker thread: safe beside live traffic (a concurrent
        confirm or re-upload wins, vanished files are skipped), but not free. Pick a
        threshold beyond the pending TTL plus the upload URL expiry, so that no upload
        that could still be completed is swept."""
        if (
            isinstance(older_than_seconds, bool)
            or not isinstance(older_than_seconds, int | float)
            or not older_than_seconds >= 0
        ):
            raise ValueError("older_than_seconds must be a number >= 0")
        cutoff = self._clock() - older_than_seconds
        swept = await _in_thread(self._files.sweep_unconfirmed, cutoff)
        # Unfinished multipart uploads go by the same threshold, parts and all.
        return swept + await _in_thread(self._parts.sweep, cutoff)

    # --- the /blobs routes ---

    async def receive_upload(
        self,
        upload: IncomingUpload,
        body: AsyncIterable[bytes],
        accepts: Callable[[str], Awaitable[bool]],
    ) -> BlobInfo:
        """Store ``body`` under ``upload.key`` if it is exactly what the URL's signature
        promised; otherwise raise (ForbiddenError, BlobTooLargeError, InvalidInputError)
        having stored nothing. Reads no more than the declared size plus one chunk.

        An upload target is written at most once: ConflictError when ``accepts(key)``
        says nothing waits for bytes at the key any more (the file was completed,
        deleted or has expired), or when the key already holds bytes — a still-valid
        URL must not swap bytes that may already have been verified."""
        signed = self._signer.verify_upload(upload.key, upload.query, self._clock())
        key = validate_key(upload.key)
        if not await accepts(key):
            raise ConflictError(CLOSED_MESSAGE)
        if await self.head(key) is not None:
            # Checked again, atomically, when the bytes are published; this early check
            # spares the client sending a body that could only be refused.
            raise ConflictError(OCCUPIED_MESSAGE)
        if upload.content_type != signed.content_type:
            raise InvalidInputError("Content-Type must be exactly the declared content type")
        expected_sha256 = _expected_sha256(signed, upload.checksum_sha256)
        if upload.content_length is not None and upload.content_length > signed.size:
            raise BlobTooLargeError("Body is larger than the declared size")
        if upload.content_length is not None and upload.content_length < signed.size:
            raise InvalidInputError("Body is smaller than the declared size")

        chunks = aiter(body)
        head, whole = await _first_buffer(chunks, signed.size)
        if whole:
            # Most uploads: one trip to a worker thread instead of three, each of which
            # waited its turn on a busy event loop to come back.
            if len(head) < signed.size:
                raise InvalidInputError("Body is smaller than the declared size")
            return await _in_thread(
                self._write_whole,
                key,
                head,
                signed.content_type,
                sha256=expected_sha256,
                mismatch="Body does not match the declared SHA-256",
                exclusive=True,
            )
        pending = await _in_thread(self._files.create, key)
        try:
            await _in_thread(pending.write, head)
            await _receive_into(pending, chunks, signed.size - len(head))
            if pending.size < signed.size:
                raise InvalidInputError("Body is smaller than the declared size")
            if expected_sha256 is not None and pending.sha256 != expected_sha256:
                raise InvalidInputError("Body does not match the declared SHA-256")
            return await _in_thread(
                pending.commit, signed.content_type, uploaded_at=self._clock(), exclusive=True
            )
        except BaseException:
            # Submitted to the thread pool at once, so it runs even while being cancelled.
            await asyncio.to_thread(pending.abort)
            raise

    async def open_download(self, key: str, query: Mapping[str, str]) -> BlobDownload:
        filename = self._signer.verify_download(key, query, self._clock())
        opened = await _in_thread(self._files.open_blob, validate_key(key))
        if opened is None:
            raise NotFoundError(NOT_FOUND_MESSAGE)
        file, info = opened
        return BlobDownload(file, info, filename)

    def _url(self, key: str, query: Mapping[str, str]) -> str:
        # Keys are URL-safe by construction (adapters/blobs/rules.py), so they go in as they are.
        return f"{self._base_url}{BLOBS_PATH}/{key}?{urlencode(query)}"


def _expected_sha256(signed: SignedUpload, checksum_header: str | None) -> str | None:
    """S3 checks a sent x-amz-checksum-sha256 header against the body whether or not a
    checksum was declared; a header contradicting the declared one fails at once."""
    if checksum_header is None:
        return signed.sha256
    sent = sha256_b64_to_hex(checksum_header)
    if sent is None or (signed.sha256 is not None and sent != signed.sha256):
        raise InvalidInputError("x-amz-checksum-sha256 does not match the declared SHA-256")
    return sent


class _Sink(Protocol):
    def write(self, data: bytes) -> None: ...


async def _first_buffer(body: AsyncIterator[bytes], size: int | None) -> tuple[bytes, bool]:
    """Up to WRITE_BUFFER_BYTES of ``body`` (more by at most one chunk), and whether that is
    all of it; BlobTooLargeError past ``size``."""
    head = bytearray()
    async for chunk in body:
        head += chunk
        if size is not None and len(head) > size:
            raise BlobTooLargeError("Body is larger than the declared size")
        if len(head) >= WRITE_BUFFER_BYTES:
            return bytes(head), False
    return bytes(head), True


async def _receive_into(pending: _Sink, body: AsyncIterable[bytes], size: int | None) -> None:
    """Write ``body`` into ``pending``; no more than ``size`` bytes when a size is given."""
    received = 0
    buffer = bytearray()
    async for chunk in body:
        received += len(chunk)
        if size is not None and received > size:
            raise BlobTooLargeError("Body is larger than the declared size")
        buffer += chunk
        if len(buffer) >= WRITE_BUFFER_BYTES:
            await _in_thread(pending.write, bytes(buffer))
            buffer.clear()
    if buffer:
        await _in_thread(pending.write, bytes(buffer))


async def _receive_part_into(pending: PendingPart, body: AsyncIterable[bytes], size: int) -> None:
    """As _receive_into, for a part: the request's chunks go to the worker thread as they
    came (no copy into a buffer), and it hashes and writes one batch while the event loop
    receives the next."""
    received = 0
    batch: list[bytes] = []
    batched = 0
    writing: asyncio.Future[None] | None = None
    try:
        async for chunk in body:
            received += len(chunk)
            if received > size:
                raise BlobTooLargeError("Body is larger than the declared size")
            batch.append(chunk)
            batched += len(chunk)
            if batched >= PART_BATCH_BYTES:
                if writing is not None:
                    await asyncio.shield(writing)
                writing = asyncio.ensure_future(_in_thread(pending.write_chunks, batch))
                batch, batched = [], 0
        if writing is not None:
            await asyncio.shield(writing)
        if batch:
            await _in_thread(pending.write_chunks, batch)
    finally:
        # Whatever ends the request, the last batch's thread finishes before the caller
        # aborts the part; its failure, if any, is already on its way out.
        if writing is not None and not writing.done():
            await asyncio.wait([writing])
        if writing is not None and writing.done() and not writing.cancelled():
            writing.exception()


def _check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError("base_url must be an absolute http(s) URL without query or fragment")
    return base_url.rstrip("/")
