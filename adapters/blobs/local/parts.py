"""Multipart uploads in the local blob folder. Blocking: always called in a worker thread.

Layout: ``root/.multipart/<upload id>/`` holds ``upload.json`` (key, content type, start
time), ``data`` and per received part its ``.part-<n>.json`` (size, SHA-256, ETag, and
its offset in ``data`` when it was written there). The folder starts with "." so no key
can reach it (adapters/blobs/rules.py), and the blob sweep's walk skips it.

Where a part's bytes go: parts of the upload's stride (the size of the first part
written in place, in practice the plan's part size) are written in place, part n at
(n - 1) * stride of ``data``, so that parts 1..n in order are that file itself; any other
part (the shorter last one, a part sent again while its place holds a stored copy, parts
of an upload started before a restart) into a file of its own, ``part-<n>``. A place that
holds a stored part is never written again, so stored bytes never change under a reader.
Completing renames the upload folder away first, so a part arriving meanwhile finds no
upload instead of changing bytes being assembled, and stops the parts still being written
in place. When the listed parts are ``data`` from its start in order (the last may have a
file of its own, then copied in after them), ``data`` itself becomes the blob: no byte is
copied but the last part's. Otherwise the parts are copied by the kernel into a
PendingBlob. Either way the blob is published at the key.

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
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
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
# Parts written in place: part n of the upload's stride (the size of the first part
# written there) at (n - 1) * stride, so that parts 1..n in order are the file itself.
_DATA_FILE = "data"
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


@dataclass(slots=True)
class _Slots:
    """Where an upload started by this process writes its parts in place: the stride,
    and the parts being written there now (a place already holding a stored part is
    never written again: a part sent again goes to a file of its own)."""

    stride: int | None = None
    writers: dict[int, "PendingPart"] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Stored:
    part: StoredPart
    offset: int | None  # in the data file, or None: in its own file


class PartFiles:
    def __init__(self, blobs: BlobFiles) -> None:
        self._blobs = blobs
        self.root = blobs.root / MULTIPART_DIR
        self._lock = threading.Lock()  # pairs a part's bytes with its metadata
        self._runs: dict[str, InOrderHash] = {}  # by upload id; under the lock
        self._advancing: set[str] = set()  # uploads whose run a thread is extending; ditto
        self._slots: dict[str, _Slots] = {}  # by upload id, for uploads started here; ditto

    def start(self, key: str, content_type: str, now: float) -> str:
        upload_id = secrets.token_urlsafe(24)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory = self.root / upload_id
        directory.mkdir(mode=0o700)
        meta = {"key": key, "contentType": content_type, "startedAt": now}
        _write_file(directory, _DATA_FILE, b"", durable=False)
        _write_file(directory, _UPLOAD_FILE, json.dumps(meta).encode())
        with self._lock:
            if len(self._slots) < _MAX_RUNS:
                self._slots[upload_id] = _Slots()
        return upload_id

    def open_upload(self, key: str, upload_id: str) -> OpenUpload:
        """The upload, when it is open and belongs to ``key``; else NotFoundError."""
        upload = self._read_upload(self.root / check_upload_id(upload_id))
        if upload is None or upload.key != key:
            raise NotFoundError(NO_SUCH_UPLOAD_MESSAGE)
        return upload

    def create_part(
        self, upload_id: str, number: int, *, hash_part: bool, size: int | None = None
    ) -> "PendingPart":
        """``hash_part``: compute the part's own SHA-256 (there is a checksum to check).
        ``size``: the part's promised size; a part whose place in the data file is free
        and of the stride's size is written there, else into a file of its own."""
        directory = self.root / check_upload_id(upload_id)
        with self._lock:
            run = self._runs.get(upload_id)
            extends = None
            if run is not None and run.parts == number - 1:
                extends = run
            elif run is None and number == 1 and len(self._runs) < _MAX_RUNS:
                extends = _NO_PARTS
            placed = self._claim_place(directory, number, size)
            if placed is not None:
                fd, offset = placed
                pending = PendingPart(
                    self, directory, None, fd, extends, hash_part=hash_part, offset=offset
                )
                self._slots[upload_id].writers[number] = pending
                return pending
        fd_path = directory / f".incoming.{secrets.token_hex(8)}.tmp"
        try:
            fd = os.open(fd_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileNotFoundError:
            raise NotFoundError(NO_SUCH_UPLOAD_MESSAGE) from None
        return PendingPart(self, directory, fd_path, fd, extends, hash_part=hash_part)

    def _claim_place(
        self, directory: Path, number: int, size: int | None
    ) -> tuple[int, int] | None:
        """Under the lock: the data file opened for writing and the part's offset in it,
        when part ``number`` may be written in place; it is then claimed until the part
        is stored or dropped. Opened under the lock, so completion (which moves the
        folder under it) knows every writer it must stop."""
        slots = self._slots.get(directory.name)
        if slots is None or not size or slots.stride not in (None, size):
            return None
        if number in slots.writers:
            return None
        stored = _read_meta(directory, f".part-{number}.json")
        if stored is not None and stored.offset is not None:
            return None
        try:
            fd = os.open(directory / _DATA_FILE, os.O_WRONLY)
        except FileNotFoundError:
            return None  # closed (the own file's creation says so) or started without one
        slots.stride = size
        return fd, (number - 1) * size

    def release_place(self, directory: Path, pending: "PendingPart") -> None:
        with self._lock:
            slots = self._slots.get(directory.name)
            if slots is None:
                return
            for number, writer in list(slots.writers.items()):
                if writer is pending:
                    del slots.writers[number]

    def publish_part(
        self,
        directory: Path,
        number: int,
        tmp: Path | None,
        meta: bytes,
        run: InOrderHash | None,
        extended: InOrderHash | None,
    ) -> None:
        """``tmp``: the part's own file, None for a part written in place. ``run``: the
        in-order hash with this part added, if the part extended ``extended``."""
        with self._lock:
            if not (directory / _UPLOAD_FILE).exists():
                # Completed or aborted while the part was on its way.
                raise NotFoundError(NO_SUCH_UPLOAD_MESSAGE)
            meta_tmp = _write_file(
                directory, f".meta.{secrets.token_hex(8)}.tmp", meta, durable=False
            )
            own_file = directory / f"part-{number}"
            if tmp is not None:
                os.replace(tmp, own_file)
            os.replace(meta_tmp, directory / f".part-{number}.json")
            if tmp is None:
                own_file.unlink(missing_ok=True)  # an earlier copy's, no longer the part
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
                    following = _open_stored(directory, run.parts + 1)
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
        return [stored.part for stored in self._listing(directory).values()]

    def _listing(self, directory: Path) -> dict[int, _Stored]:
        """The stored parts by number, in order, with where their bytes are."""
        found = []
        with self._lock:
            try:
                names = os.listdir(directory)
            except FileNotFoundError:
                raise NotFoundError(NO_SUCH_UPLOAD_MESSAGE) from None
            for name in names:
                if not (name.startswith(".part-") and name.endswith(".json")):
                    continue
                stored = _read_meta(directory, name)
                if stored is not None:
                    found.append(stored)
        found.sort(key=lambda stored: stored.part.part_number)
        return {stored.part.part_number: stored for stored in found}

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
            slots = self._slots.get(upload_id)
            # Nor claim a place in the data file; those writing in place now are stopped
            # before the file can become the blob.
            writers = list(slots.writers.values()) if slots is not None else []
        try:
            # Again, now that no part can change: one sent again since the check above
            # must not be assembled under the ETag (and the hash) of the copy before it.
            listing = self._listing(closed)
            stored = {number: entry.part for number, entry in listing.items()}
            _check_listed(parts, checksums, stored)
            digest, hashed = _usable_run(run, numbers, stored)
            for writer in writers:
                writer.revoke()
            info = self._assemble(upload, closed, numbers, listing, digest, hashed)
        except BaseException:
            # The bytes are still all there: reopen the upload so the client may retry.
            os.rename(closed, directory)
            raise
        with self._lock:
            self._runs.pop(upload_id, None)
            self._slots.pop(upload_id, None)
        shutil.rmtree(closed, ignore_errors=True)
        return info

    def _stored(self, directory: Path) -> dict[int, StoredPart]:
        return {part.part_number: part for part in self._parts_in(directory)}

    def _assemble(
        self,
        upload: OpenUpload,
        directory: Path,
        numbers: Sequence[int],
        listing: Mapping[int, _Stored],
        digest: "hashlib._Hash",
        hashed: int,
    ) -> BlobInfo:
        """``digest`` covers the first ``hashed`` of ``numbers`` already."""
        for number in numbers[hashed:]:
            with _opened(directory, listing[number]) as fd:
                _hash_file(fd, listing[number].part.size, digest)
        data = directory / _DATA_FILE
        last = _in_place_up_to(numbers, listing)
        if last is not None:
            return self._assemble_in_place(upload, data, listing[numbers[-1]], last, digest)
        pending = self._blobs.create(upload.key)
        try:
            for number in numbers:
                stored = listing[number]
                with _opened(directory, stored) as fd:
                    pending.append_copy(fd, stored.part.size, stored.offset or 0)
            pending.adopt_digest(digest)
            return pending.commit(upload.content_type, uploaded_at=upload.started_at)
        except BaseException:
            pending.abort()
            raise

    def _assemble_in_place(
        self,
        upload: OpenUpload,
        data: Path,
        final: _Stored,
        final_offset: int,
        digest: "hashlib._Hash",
    ) -> BlobInfo:
        """The data file becomes the blob: the listed parts are in it in order from its
        start but the last, which is copied in after them when it has a file of its own
        (the last part is mostly shorter than the stride)."""
        end = final_offset + final.part.size
        if final.offset is None:
            # Whatever a dropped write left past the parts before it goes.
            os.truncate(data, final_offset)
        elif os.stat(data).st_size != end:
            os.truncate(data, end)
        pending = self._blobs.adopt(upload.key, data)
        try:
            if final.offset is None:
                with _opened(data.parent, final) as fd:
                    pending.append_copy(fd, final.part.size)
            pending.adopt_digest(digest)
            return pending.commit(upload.content_type, uploaded_at=upload.started_at)
        except BaseException:
            pending.abort()  # keeps the data file: the parts in it are the upload's
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
            self._slots.pop(directory.name, None)
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
        tmp: Path | None,
        fd: int,
        extends: InOrderHash | None,
        *,
        hash_part: bool,
        offset: int | None = None,
    ) -> None:
        """``tmp``: the part's own file; None when it is written in place, at ``offset``
        of its upload's data file."""
        self._files = files
        self._directory = directory
        self._tmp = tmp
        self._offset = offset
        self._revoked = False
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
            if self._revoked:
                raise NotFoundError(NO_SUCH_UPLOAD_MESSAGE)
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
                if self._offset is None:
                    _write_all(self._fd, chunk)
                else:
                    _pwrite_all(self._fd, chunk, self._offset + self.size)
                self.size += len(chunk)

    def revoke(self) -> None:
        """Stop writing in place for good (its upload is being completed): waits for a
        write under way, so that none lands in the data file after this returns."""
        with self._io_lock:
            self._revoked = True
            fd, self._fd = self._fd, None
            if fd is not None:
                os.close(fd)

    def commit(self, number: int) -> StoredPart:
        with self._io_lock:
            if self._revoked:
                raise NotFoundError(NO_SUCH_UPLOAD_MESSAGE)
            if self._fd is None:
                raise OSError(errno.EBADF, "part already closed")
            fd, self._fd = self._fd, None
            # Not fsynced (nor is its metadata): only the assembled file is, before it is
            # READY. A part gets to the disk only if it waits long enough; its folder
            # entry never was made durable. After a machine crash a lost part is missing
            # or short (not listed: the client sends it again) and a damaged one fails
            # the whole-file SHA-256 at completion (hashed from disk after a restart).
            # Writing every byte to the disk twice was half of the upload's disk time.
            if self._offset is not None:
                _start_writeback(fd, self._offset, self.size)
            os.close(fd)
        # S3's ETag is the part's MD5; any name of the stored bytes serves.
        sha256 = self.sha256
        etag = part_etag(sha256[:32] if sha256 is not None else secrets.token_hex(16))
        part = StoredPart(number, self.size, etag, sha256)
        meta: dict[str, object] = {
            "partNumber": number,
            "size": part.size,
            "sha256": part.sha256,
            "etag": part.etag,
        }
        if self._offset is not None:
            meta["offset"] = self._offset
        run = None
        if self._extends is not None and self._run_digest is not None:
            run = self._extends.then(self._run_digest, etag)
        try:
            self._files.publish_part(
                self._directory, number, self._tmp, json.dumps(meta).encode(), run, self._extends
            )
        finally:
            if self._offset is not None:
                self._files.release_place(self._directory, self)
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
            if self._tmp is not None:
                self._tmp.unlink(missing_ok=True)
            else:
                # What it wrote in place stays until the place is written again or the
                # upload ends: no stored part names it, so nothing lists or assembles it.
                self._files.release_place(self._directory, self)
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


def _open_stored(directory: Path, number: int) -> tuple[int, StoredPart] | None:
    """Under the lock: the stored part ``number``, opened at its first byte, so that a
    copy sent again meanwhile replaces the name, not the bytes being read (a place in
    the data file holding a stored part is never written again); None when there is
    none."""
    stored = _read_meta(directory, f".part-{number}.json")
    if stored is None:
        return None
    try:
        return _open_at(directory, stored), stored.part
    except FileNotFoundError:
        return None


def _open_at(directory: Path, stored: _Stored) -> int:
    if stored.offset is None:
        return os.open(directory / f"part-{stored.part.part_number}", os.O_RDONLY)
    fd = os.open(directory / _DATA_FILE, os.O_RDONLY)
    os.lseek(fd, stored.offset, os.SEEK_SET)
    return fd


@contextmanager
def _opened(directory: Path, stored: _Stored) -> Iterator[int]:
    fd = _open_at(directory, stored)
    try:
        yield fd
    finally:
        os.close(fd)


def _in_place_up_to(numbers: Sequence[int], listing: Mapping[int, _Stored]) -> int | None:
    """When the listed parts are the data file from its start, in order (the last may
    have a file of its own), and no other stored part is in it (the file is cut to the
    listed parts' end, and a completion that fails leaves every stored part whole): where
    the last one goes; else None."""
    listed = set(numbers)
    if any(stored.offset is not None and n not in listed for n, stored in listing.items()):
        return None
    offset = 0
    for index, number in enumerate(numbers):
        stored = listing[number]
        last = index == len(numbers) - 1
        if stored.offset != offset and not (last and stored.offset is None):
            return None
        if last:
            return offset
        offset += stored.part.size
    return None


def _hash_file(fd: int, size: int, digest: "hashlib._Hash") -> None:
    """Hash ``size`` bytes from ``fd``'s position."""
    buffer = bytearray(min(_HASH_READ_BYTES, max(size, 1)))
    view = memoryview(buffer)
    left = size
    while left and (read := os.readv(fd, [view[:left]])):
        digest.update(view[:read])
        left -= read
    if left:
        raise OSError(errno.EIO, "stored part is shorter than recorded")


def _start_writeback(fd: int, offset: int, size: int) -> None:
    """Start writing a part written in place to the disk now, without waiting for it: the
    data file becomes the blob, and its fsync at completion then waits only for what is
    still on its way instead of writing the whole upload within that request. (Linux
    starts the writeback of dirty pages on this advice; it drops only clean ones, none
    here yet, so the hash-ahead still reads the part from memory.)"""
    try:
        os.posix_fadvise(fd, offset, size, os.POSIX_FADV_DONTNEED)
    except (AttributeError, OSError):
        pass  # an advice: without it the fsync at completion does the writing


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        # A regular file takes it all unless the disk fills or a signal lands.
        view = view[os.write(fd, view) :]


def _read_meta(directory: Path, meta_name: str) -> _Stored | None:
    try:
        meta = json.loads((directory / meta_name).read_bytes())
        part = StoredPart(
            int(meta["partNumber"]), int(meta["size"]), str(meta["etag"]), meta["sha256"]
        )
        offset = meta.get("offset")
        if offset is None:
            whole = os.stat(directory / f"part-{part.part_number}").st_size == part.size
        else:
            offset = int(offset)
            whole = os.stat(directory / _DATA_FILE).st_size >= offset + part.size
        if not whole:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return _Stored(part, offset)


def _write_file(directory: Path, name: str, data: bytes, *, durable: bool = True) -> Path:
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        if durable:
            os.fsync(file.fileno())
    return path
