"""Multipart uploads in the local blob folder. Blocking: always called in a worker thread.

Layout: ``root/.multipart/<upload id>/`` holds ``upload.json`` (key, content type, start
time) and per received part ``part-<n>`` with its ``.part-<n>.json`` (size, SHA-256,
ETag). The folder starts with "." so no key can reach it (adapters/blobs/rules.py), and
the blob sweep's walk skips it. Completing renames the upload folder away first, so a part
arriving meanwhile finds no upload instead of changing bytes being assembled; the parts
are then copied by the kernel into a PendingBlob and published at the key.

Every byte is hashed once. The whole file's SHA-256 is computed while the parts arrive:
a part that extends the run of parts received in order (1, 2, ... n) is fed to a copy of
that run's hash as it is received, and parts stored ahead of the run (sent concurrently,
as S3 clients do, they mostly finish out of order) are read back from the page cache and
hashed once the run reaches them (``advance_run``), so completing hashes only what the
run does not cover. The run's hash lives in this process only, with a digest of its
parts' ETags; completion uses it only when the listed parts start with exactly those
stored parts, and else (a part sent again, a restart) hashes what the run does not cover.
A part's own SHA-256 is computed only when there is one to check it against (signed into
its URL, or sent as x-amz-checksum-sha256), as S3 records a part's checksum only then;
its ETag is then that digest, else a random name of the stored copy (one per PUT: S3's
MD5 would need a second hash of every byte).

Every byte goes to the disk once: parts are not fsynced, the assembled file is (with its
metadata and folder) before completion answers; see PendingPart.commit.
"""

import errno
import hashlib
import json
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from adapters.blobs.local.files import READ_CHUNK_BYTES, BlobFiles
from adapters.blobs.rules import (
    WRONG_PART_MESSAGE,
    check_part_checksums,
    check_upload_id,
    normalize_etag,
    part_etag,
)
from domain.errors import InvalidInputError, NotFoundError
from domain.ports import BlobInfo, StoredPart

logger = logging.getLogger(__name__)

MULTIPART_DIR = ".multipart"
NO_SUCH_UPLOAD_MESSAGE = "No such upload: it was completed, aborted or has expired"
_UPLOAD_FILE = "upload.json"
_COMPLETING = ".completing"
# Open uploads whose in-order hash is kept (~400 bytes each, whatever their part count);
# beyond it, new uploads are hashed at completion instead.
_MAX_RUNS = 4096
_HASH_READ_BYTES = 4 * READ_CHUNK_BYTES


@dataclass(frozen=True, slots=True)
class InOrderHash:
    """The SHA-256 of parts 1..n as received, and which stored copies they were: a chain
    of digests over their ETags (a fixed size however many parts)."""

    digest: "hashlib._Hash"
    parts: int
    etags: bytes

    def then(self, digest: "hashlib._Hash", etag: str) -> "InOrderHash":
        return InOrderHash(digest, self.parts + 1, _chain(self.etags, etag))


_NO_PARTS = InOrderHash(hashlib.sha256(), 0, b"")


def _chain(etags: bytes, etag: str) -> bytes:
    return hashlib.sha256(etags + etag.encode()).digest()


@dataclass(frozen=True, slots=True)
class OpenUpload:
    key: str
    content_type: str
    started_at: float


class PartFiles:
    def __init__(self, blobs: BlobFiles) -> None:
        self._blobs = blobs
        self.root = blobs.root / MULTIPART_DIR
        self._lock = threading.Lock()  # pairs a part's bytes with its metadata
        self._runs: dict[str, InOrderHash] = {}  # by upload id; under the lock
        self._advancing: set[str] = set()  # uploads whose run a thread is extending; ditto

    def start(self, key: str, content_type: str, now: float) -> str:
        upload_id = secrets.token_urlsafe(24)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory = self.root / upload_id
        directory.mkdir(mode=0o700)
        meta = {"key": key, "contentType": content_type, "startedAt": now}
        _write_file(directory, _UPLOAD_FILE, json.dumps(meta).encode())
        return upload_id

    def open_upload(self, key: str, upload_id: str) -> OpenUpload:
        """The upload, when it is open and belongs to ``key``; else NotFoundError."""
        upload = self._read_upload(self.root / check_upload_id(upload_id))
        if upload is None or upload.key != key:
            raise NotFoundError(NO_SUCH_UPLOAD_MESSAGE)
        return upload

    def create_part(self, upload_id: str, number: int, *, hash_part: bool) -> "PendingPart":
        """``hash_part``: compute the part's own SHA-256 (there is a checksum to check)."""
        directory = self.root / check_upload_id(upload_id)
        fd_path = directory / f".incoming.{secrets.token_hex(8)}.tmp"
        try:
            fd = os.open(fd_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileNotFoundError:
            raise NotFoundError(NO_SUCH_UPLOAD_MESSAGE) from None
        with self._lock:
            run = self._runs.get(upload_id)
            extends = None
            if run is not None and run.parts == number - 1:
                extends = run
            elif run is None and number == 1 and len(self._runs) < _MAX_RUNS:
                extends = _NO_PARTS
        return PendingPart(self, directory, fd_path, fd, extends, hash_part=hash_part)

    def publish_part(
        self,
        directory: Path,
        number: int,
        tmp: Path,
        meta: bytes,
        run: InOrderHash | None,
        extended: InOrderHash | None,
    ) -> None:
        """``run``: the in-order hash with this part added, if the part extended ``extended``."""
        with self._lock:
            if not (directory / _UPLOAD_FILE).exists():
                # Completed or aborted while the part was on its way.
                raise NotFoundError(NO_SUCH_UPLOAD_MESSAGE)
            meta_tmp = _write_file(
                directory, f".meta.{secrets.token_hex(8)}.tmp", meta, durable=False
            )
            os.replace(tmp, directory / f"part-{number}")
            os.replace(meta_tmp, directory / f".part-{number}.json")
            current = self._runs.get(directory.name, _NO_PARTS)
            # Only onto the run it extended: another part may have moved it meanwhile.
            if run is not None and current is extended:
                self._runs[directory.name] = run

    def advance_run(self, directory: Path) -> None:
        """Extend the upload's in-order hash over the stored parts that follow it, hashed
        from the page cache in order: parts sent concurrently (as S3 clients send them)
        mostly arrive before the one the run waits for, and each would otherwise be read
        back and hashed by completion instead, within its request. One thread at a time
        per upload; a part stored meanwhile is seen by that thread's next look."""
        upload_id = directory.name
        with self._lock:
            run = self._runs.get(upload_id)
            if run is None or upload_id in self._advancing:
                return
            self._advancing.add(upload_id)
        try:
            while True:
                with self._lock:
                    following = _open_part(directory, run.parts + 1)
                    if following is None:
                        # Under the lock with the look: a part published after it
                        # finds no thread advancing and advances itself.
                        self._advancing.discard(upload_id)
                        return
                fd, part = following
                try:
                    digest = run.digest.copy()
                    _hash_file(fd, part.size, digest)
                finally:
                    os.close(fd)
                extended = run.then(digest, part.etag)
                with self._lock:
                    # Not onto a run that moved meanwhile, nor back into a closed upload.
                    if self._runs.get(upload_id) is not run:
                        self._advancing.discard(upload_id)
                        return
                    self._runs[upload_id] = run = extended
        except BaseException:
            with self._lock:
                self._advancing.discard(upload_id)
            raise

    def parts(self, key: str, upload_id: str) -> list[StoredPart]:
        self.open_upload(key, upload_id)
        return self._parts_in(self.root / upload_id)

    def _parts_in(self, directory: Path) -> list[StoredPart]:
        found = []
        with self._lock:
            try:
                names = os.listdir(directory)
            except FileNotFoundError:
                raise NotFoundError(NO_SUCH_UPLOAD_MESSAGE) from None
            for name in names:
                if not (name.startswith(".part-") and name.endswith(".json")):
                    continue
                part = _read_part(directory, name)
                if part is not None:
                    found.append(part)
        return sorted(found, key=lambda part: part.part_number)

    def complete(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[tuple[int, str]],
        checksums: Mapping[int, str] | None,
    ) -> BlobInfo:
        upload = self.open_upload(key, upload_id)
        directory = self.root / upload_id
        numbers = [number for number, _ in parts]
        if not parts or numbers != sorted(set(numbers)):
            raise InvalidInputError(WRONG_PART_MESSAGE)
        _check_listed(parts, checksums, self._stored(directory))
        closed = self.root / f"{upload_id}{_COMPLETING}"
        with self._lock:
            try:
                os.rename(directory, closed)
            except FileNotFoundError:
                raise NotFoundError(NO_SUCH_UPLOAD_MESSAGE) from None
            # No part can join the run now: the upload's folder is gone from its place.
            run = self._runs.get(upload_id)
        try:
            # Again, now that no part can change: one sent again since the check above
            # must not be assembled under the ETag (and the hash) of the copy before it.
            stored = self._stored(closed)
            _check_listed(parts, checksums, stored)
            digest, hashed = _usable_run(run, numbers, stored)
            info = self._assemble(upload, closed, numbers, digest, hashed)
        except BaseException:
            # The bytes are still all there: reopen the upload so the client may retry.
            os.rename(closed, directory)
            raise
        with self._lock:
            self._runs.pop(upload_id, None)
        shutil.rmtree(closed, ignore_errors=True)
        return info

    def _stored(self, directory: Path) -> dict[int, StoredPart]:
        return {part.part_number: part for part in self._parts_in(directory)}

    def _assemble(
        self,
        upload: OpenUpload,
        directory: Path,
        numbers: Sequence[int],
        digest: "hashlib._Hash",
        hashed: int,
    ) -> BlobInfo:
        """``digest`` covers the first ``hashed`` of ``numbers`` already."""
        pending = self._blobs.create(upload.key)
        try:
            for index, number in enumerate(numbers):
                with open(directory / f"part-{number}", "rb") as part:
                    size = os.fstat(part.fileno()).st_size
                    if index >= hashed:
                        _hash_file(part.fileno(), size, digest)
                    pending.append_copy(part.fileno(), size)
            pending.adopt_digest(digest)
            return pending.commit(upload.content_type, uploaded_at=upload.started_at)
        except BaseException:
            pending.abort()
            raise

    def abort(self, key: str, upload_id: str) -> None:
        try:
            self.open_upload(key, upload_id)
        except NotFoundError:
            return
        self._remove(self.root / upload_id)

    def sweep(self, started_before: float) -> int:
        """Remove uploads started before ``started_before`` (epoch seconds), and what an
        interrupted completion left; how many."""
        removed = 0
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return 0
        for name in names:
            directory = self.root / name
            upload = self._read_upload(directory)
            if upload is None or upload.started_at < started_before:
                self._remove(directory)
                removed += 1
        if removed:
            logger.info("local blobs: swept %d unfinished multipart upload(s)", removed)
        return removed

    def _remove(self, directory: Path) -> None:
        with self._lock:
            self._runs.pop(directory.name, None)
            # Renamed first: a part arriving now finds no upload rather than a half-deleted one.
            doomed = directory.with_name(f".doomed.{secrets.token_hex(8)}")
            try:
                os.rename(directory, doomed)
            except FileNotFoundError:
                return
        shutil.rmtree(doomed, ignore_errors=True)

    @staticmethod
    def _read_upload(directory: Path) -> OpenUpload | None:
        try:
            meta = json.loads((directory / _UPLOAD_FILE).read_bytes())
            return OpenUpload(str(meta["key"]), str(meta["contentType"]), float(meta["startedAt"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


class PendingPart:
    """A part being received: a temporary file in its upload's folder, hashed on the way
    (and into its upload's in-order hash when it extends it)."""

    def __init__(
        self,
        files: PartFiles,
        directory: Path,
        tmp: Path,
        fd: int,
        extends: InOrderHash | None,
        *,
        hash_part: bool,
    ) -> None:
        self._files = files
        self._directory = directory
        self._tmp = tmp
        self._fd: int | None = fd
        # A writing thread and an abort on the event loop's behalf must not interleave:
        # closing the descriptor mid-write could let the write land in a reused one.
        self._io_lock = threading.Lock()
        self._sha256 = hashlib.sha256() if hash_part else None
        self._extends = extends
        self._run_digest = extends.digest.copy() if extends is not None else None
        self.size = 0

    @property
    def sha256(self) -> str | None:
        """The part's SHA-256, when it was asked for."""
        return self._sha256.hexdigest() if self._sha256 is not None else None

    def write_chunks(self, chunks: Sequence[bytes]) -> None:
        """Hash and write ``chunks`` as they came from the request: no joining copy."""
        with self._io_lock:
            if self._fd is None:
                raise OSError(errno.EBADF, "part already closed")
            digests = [d for d in (self._sha256, self._run_digest) if d is not None]
            for chunk in chunks:
                # Hashed and written chunk by chunk, while its bytes are still in this
                # core's cache: a 2 MiB batch hashed whole and then written read every
                # byte from memory twice, and memory bandwidth is what this path runs at.
                # hashlib and write(2) let go of the GIL: the event loop receives the
                # next batch meanwhile.
                for digest in digests:
                    digest.update(chunk)
                _write_all(self._fd, chunk)
                self.size += len(chunk)

    def commit(self, number: int) -> StoredPart:
        with self._io_lock:
            if self._fd is None:
                raise OSError(errno.EBADF, "part already closed")
            fd, self._fd = self._fd, None
            # Not fsynced (nor is its metadata): only the assembled file is, before it is
            # READY. A part gets to the disk only if it waits long enough; its folder
            # entry never was made durable. After a machine crash a lost part is missing
            # or short (not listed: the client sends it again) and a damaged one fails
            # the whole-file SHA-256 at completion (hashed from disk after a restart).
            # Writing every byte to the disk twice was half of the upload's disk time.
            os.close(fd)
        # S3's ETag is the part's MD5; any name of the stored bytes serves.
        sha256 = self.sha256
        etag = part_etag(sha256[:32] if sha256 is not None else secrets.token_hex(16))
        part = StoredPart(number, self.size, etag, sha256)
        meta = {"partNumber": number, "size": part.size, "sha256": part.sha256, "etag": part.etag}
        run = None
        if self._extends is not None and self._run_digest is not None:
            run = self._extends.then(self._run_digest, etag)
        self._files.publish_part(
            self._directory, number, self._tmp, json.dumps(meta).encode(), run, self._extends
        )
        try:
            self._files.advance_run(self._directory)
        except OSError as exc:
            # The part is stored: completion hashes what the run does not cover.
            logger.warning("local blobs: could not hash ahead (%s)", exc.strerror)
        return part

    def abort(self) -> None:
        try:
            with self._io_lock:
                fd, self._fd = self._fd, None
                if fd is not None:
                    os.close(fd)
            self._tmp.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("local blobs: could not remove a temporary part (%s)", exc.strerror)


def _check_listed(
    parts: Sequence[tuple[int, str]],
    checksums: Mapping[int, str] | None,
    stored: Mapping[int, StoredPart],
) -> None:
    check_part_checksums(parts, checksums, {number: part.sha256 for number, part in stored.items()})
    for number, etag in parts:
        part = stored.get(number)
        if part is None or normalize_etag(part.etag) != normalize_etag(etag):
            raise InvalidInputError(WRONG_PART_MESSAGE)


def _usable_run(
    run: InOrderHash | None, numbers: Sequence[int], stored: Mapping[int, StoredPart]
) -> tuple["hashlib._Hash", int]:
    """A digest to continue from and how many of ``numbers`` it covers: the in-order
    hash when the listed parts begin with exactly the parts it hashed (the same numbers,
    stored with the same ETags), else a fresh one."""
    if run is None or not run.parts or list(numbers[: run.parts]) != list(range(1, run.parts + 1)):
        return hashlib.sha256(), 0
    etags = b""
    for number in numbers[: run.parts]:
        etags = _chain(etags, stored[number].etag)
    if etags != run.etags:
        return hashlib.sha256(), 0
    return run.digest.copy(), run.parts


def _open_part(directory: Path, number: int) -> tuple[int, StoredPart] | None:
    """Under the lock: the stored part ``number``, opened, so that a copy sent again
    meanwhile replaces the name, not the bytes being read; None when there is none."""
    part = _read_part(directory, f".part-{number}.json")
    if part is None:
        return None
    try:
        return os.open(directory / f"part-{number}", os.O_RDONLY), part
    except FileNotFoundError:
        return None


def _hash_file(fd: int, size: int, digest: "hashlib._Hash") -> None:
    buffer = bytearray(min(_HASH_READ_BYTES, max(size, 1)))
    view = memoryview(buffer)
    while read := os.readv(fd, [buffer]):
        digest.update(view[:read])


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        # A regular file takes it all unless the disk fills or a signal lands.
        view = view[os.write(fd, view) :]


def _read_part(directory: Path, meta_name: str) -> StoredPart | None:
    try:
        meta = json.loads((directory / meta_name).read_bytes())
        part = StoredPart(
            int(meta["partNumber"]), int(meta["size"]), str(meta["etag"]), meta["sha256"]
        )
        if os.stat(directory / f"part-{part.part_number}").st_size != part.size:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return part


def _write_file(directory: Path, name: str, data: bytes, *, durable: bool = True) -> Path:
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        if durable:
            os.fsync(file.fileno())
    return path
