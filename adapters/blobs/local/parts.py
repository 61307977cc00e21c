"""Multipart uploads in the local blob folder. Blocking: always called in a worker thread.

Layout: ``root/.multipart/<upload id>/`` holds ``upload.json`` (key, content type, start
time) and per received part ``part-<n>`` with its ``.part-<n>.json`` (size, SHA-256,
ETag). The folder starts with "." so no key can reach it (adapters/blobs/rules.py), and
the blob sweep's walk skips it. Completing renames the upload folder away first, so a part
arriving meanwhile finds no upload instead of changing bytes being assembled; the parts
are then streamed into a PendingBlob (hashed on the way) and published at the key.
"""

import hashlib
import json
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

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

    def create_part(self, upload_id: str) -> "PendingPart":
        directory = self.root / check_upload_id(upload_id)
        fd_path = directory / f".incoming.{secrets.token_hex(8)}.tmp"
        try:
            fd = os.open(fd_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileNotFoundError:
            raise NotFoundError(NO_SUCH_UPLOAD_MESSAGE) from None
        return PendingPart(self, directory, fd_path, os.fdopen(fd, "wb"))

    def publish_part(self, directory: Path, number: int, tmp: Path, meta: bytes) -> None:
        with self._lock:
            if not (directory / _UPLOAD_FILE).exists():
                # Completed or aborted while the part was on its way.
                raise NotFoundError(NO_SUCH_UPLOAD_MESSAGE)
            meta_tmp = _write_file(directory, f".meta.{secrets.token_hex(8)}.tmp", meta)
            os.replace(tmp, directory / f"part-{number}")
            os.replace(meta_tmp, directory / f".part-{number}.json")

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
        stored = {part.part_number: part for part in self._parts_in(directory)}
        numbers = [number for number, _ in parts]
        if not parts or numbers != sorted(set(numbers)):
            raise InvalidInputError(WRONG_PART_MESSAGE)
        check_part_checksums(
            parts, checksums, {number: part.sha256 for number, part in stored.items()}
        )
        for number, etag in parts:
            part = stored.get(number)
            if part is None or normalize_etag(part.etag) != normalize_etag(etag):
                raise InvalidInputError(WRONG_PART_MESSAGE)
        closed = self.root / f"{upload_id}{_COMPLETING}"
        with self._lock:
            try:
                os.rename(directory, closed)
            except FileNotFoundError:
                raise NotFoundError(NO_SUCH_UPLOAD_MESSAGE) from None
        try:
            info = self._assemble(upload, closed, [number for number, _ in parts])
        except BaseException:
            # The bytes are still all there: reopen the upload so the client may retry.
            os.rename(closed, directory)
            raise
        shutil.rmtree(closed, ignore_errors=True)
        return info

    def _assemble(self, upload: OpenUpload, directory: Path, numbers: Iterable[int]) -> BlobInfo:
        pending = self._blobs.create(upload.key)
        try:
            for number in numbers:
                with open(directory / f"part-{number}", "rb") as part:
                    while chunk := part.read(READ_CHUNK_BYTES * 4):
                        pending.write(chunk)
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
    """A part being received: a temporary file in its upload's folder, hashed on the way."""

    def __init__(self, files: PartFiles, directory: Path, tmp: Path, file: BinaryIO) -> None:
        self._files = files
        self._directory = directory
        self._tmp = tmp
        self._file = file
        self._sha256 = hashlib.sha256()
        self.size = 0

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._sha256.update(data)
        self.size += len(data)

    def commit(self, number: int) -> StoredPart:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        # S3's ETag is the part's MD5; any digest of the bytes serves, and the SHA-256 is
        # computed anyway: one hash per byte instead of two.
        part = StoredPart(number, self.size, part_etag(self.sha256[:32]), self.sha256)
        meta = {"partNumber": number, "size": part.size, "sha256": part.sha256, "etag": part.etag}
        self._files.publish_part(self._directory, number, self._tmp, json.dumps(meta).encode())
        return part

    def abort(self) -> None:
        try:
            self._file.close()
            self._tmp.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("local blobs: could not remove a temporary part (%s)", exc.strerror)


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


def _write_file(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    return path
