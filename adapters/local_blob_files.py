"""The files behind the local blob store. Blocking: always called in a worker thread.

Layout under ``root``: the bytes of key ``files/abc/blob`` are at ``root/files/abc/blob``,
their metadata (content type, size, SHA-256) at ``root/files/abc/.blob.meta.json``.
Temporary files are ``.<name>.<random>.tmp`` in the same directory, so ``os.replace``
publishes them atomically. Key segments never start with "." (blob_names), so neither
kind of hidden file can collide with a key.

One process owns a folder: data and metadata are replaced as a pair under a lock held by
this process, so two server processes sharing one folder could briefly pair new bytes
with old metadata.
"""

import hashlib
import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from adapters.blob_names import validate_key
from domain.errors import InvalidInputError, NotFoundError, StoreUnavailableError
from domain.ports import BlobInfo

logger = logging.getLogger(__name__)

READ_CHUNK_BYTES = 256 * 1024
UNAVAILABLE_MESSAGE = "Blob storage is unavailable"
NOT_FOUND_MESSAGE = "Blob not found"

_META_SUFFIX = ".meta.json"
_TMP_SUFFIX = ".tmp"
_CREATE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class BlobPaths:
    directory: Path
    data: Path
    meta: Path


class BlobFiles:
    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))
        # Pairs the data file with its metadata: writers replace both, readers read both,
        # under this lock (only for those few syscalls, never for a whole transfer).
        self._lock = threading.Lock()

    def paths(self, key: str) -> BlobPaths:
        data = self.root.joinpath(*validate_key(key).split("/"))
        return BlobPaths(data.parent, data, data.parent / f".{data.name}{_META_SUFFIX}")

    def check_inside(self, directory: Path) -> None:
        """Keys are validated lexically; this catches a symlink leading out of the root."""
        real_root = os.path.realpath(self.root)
        real = os.path.realpath(directory)
        if real != real_root and not real.startswith(real_root + os.sep):
            raise InvalidInputError("Invalid blob key")

    def head(self, key: str) -> BlobInfo | None:
        paths = self.paths(key)
        self.check_inside(paths.directory)
        with self._lock:
            info = self._read_meta(paths)
            if info is None:
                return None
            try:
                size = os.stat(paths.data).st_size
            except (FileNotFoundError, NotADirectoryError):
                return None
        return info if self._sizes_agree(key, info, size) else None

    def open_blob(self, key: str) -> tuple[BinaryIO, BlobInfo] | None:
        paths = self.paths(key)
        self.check_inside(paths.directory)
        with self._lock:
            info = self._read_meta(paths)
            if info is None:
                return None
            try:
                file = open(paths.data, "rb")  # closed by the caller
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                return None
        try:
            size = os.fstat(file.fileno()).st_size
        except OSError:
            file.close()
            raise
        if not self._sizes_agree(key, info, size):
            file.close()
            return None
        return file, info

    def create(self, key: str) -> "PendingBlob":
        paths = self.paths(key)
        for attempt in range(_CREATE_ATTEMPTS):
            # Checked before mkdir too, which would otherwise follow a symlink out.
            self.check_inside(paths.directory)
            try:
                self._make_directories(paths.directory)
                self.check_inside(paths.directory)
                tmp, file = _new_private_file(paths.directory, paths.data.name)
            except FileNotFoundError:
                # A concurrent delete pruned a directory we had just made; make it again.
                if attempt == _CREATE_ATTEMPTS - 1:
                    raise
                continue
            return PendingBlob(self, paths, tmp, file)
        raise AssertionError("unreachable")

    def _make_directories(self, directory: Path) -> None:
        # One level at a time: mkdir(parents=True) would give the intermediate levels
        # the umask's mode instead of 0700.
        current = self.root
        current.mkdir(mode=0o700, parents=True, exist_ok=True)
        for part in directory.relative_to(self.root).parts:
            current = current / part
            current.mkdir(mode=0o700, exist_ok=True)

    def publish(self, paths: BlobPaths, data_tmp: Path, meta_tmp: Path) -> None:
        with self._lock:
            os.replace(data_tmp, paths.data)
            os.replace(meta_tmp, paths.meta)
        _fsync_directory(paths.directory)

    def delete(self, key: str) -> None:
        paths = self.paths(key)
        self.check_inside(paths.directory)
        with self._lock:
            # Metadata first: without it the blob is already gone for readers.
            for path in (paths.meta, paths.data):
                try:
                    if not path.is_dir():
                        path.unlink()
                except (FileNotFoundError, NotADirectoryError):
                    pass
        self.prune(paths.directory)

    def copy(self, source_key: str, dest_key: str) -> None:
        opened = self.open_blob(source_key)
        if opened is None:
            raise NotFoundError(NOT_FOUND_MESSAGE)
        source, info = opened
        with source:
            if source_key == dest_key:
                return
            pending = self.create(dest_key)
            try:
                while chunk := source.read(READ_CHUNK_BYTES):
                    pending.write(chunk)
                if pending.sha256 != info.sha256:
                    # Copying would hide the damage behind freshly computed metadata.
                    logger.error("local blobs: stored bytes of a blob no longer match its hash")
                    raise StoreUnavailableError(UNAVAILABLE_MESSAGE)
                pending.commit(info.content_type)
            except BaseException:
                pending.abort()
                raise

    def ping(self) -> None:
        if not (self.root.is_dir() and os.access(self.root, os.W_OK | os.X_OK)):
            raise StoreUnavailableError(UNAVAILABLE_MESSAGE)

    def prune(self, directory: Path) -> None:
        """Remove directories emptied by a delete, up to (never including) the root."""
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def _read_meta(self, paths: BlobPaths) -> BlobInfo | None:
        try:
            raw = paths.meta.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        try:
            meta = json.loads(raw)
            info = BlobInfo(
                size=meta["size"], content_type=meta["contentType"], sha256=meta["sha256"]
            )
            valid = (
                isinstance(info.size, int)
                and isinstance(info.content_type, str)
                and isinstance(info.sha256, str)
            )
        except (ValueError, KeyError, TypeError):
            valid = False
        if not valid:
            logger.warning("local blobs: unreadable metadata file; treating the blob as missing")
            return None
        return info

    @staticmethod
    def _sizes_agree(key: str, info: BlobInfo, size: int) -> bool:
        if size != info.size:
            logger.warning("local blobs: size of %s disagrees with its metadata", key)
            return False
        return True


class PendingBlob:
    """A temporary file beside the blob's final place: it becomes the blob on commit and
    leaves no trace on abort."""

    def __init__(self, files: BlobFiles, paths: BlobPaths, tmp: Path, file: BinaryIO) -> None:
        self._files = files
        self._paths = paths
        self._tmp = tmp
        self._meta_tmp: Path | None = None
        self._file = file
        self._digest = hashlib.sha256()
        self.size = 0

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._digest.update(data)
        self.size += len(data)

    def commit(self, content_type: str) -> BlobInfo:
        info = BlobInfo(size=self.size, content_type=content_type, sha256=self.sha256)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        meta = {"contentType": info.content_type, "size": info.size, "sha256": info.sha256}
        self._meta_tmp, meta_file = _new_private_file(self._paths.directory, self._paths.data.name)
        with meta_file:
            meta_file.write(json.dumps(meta).encode("utf-8"))
            meta_file.flush()
            os.fsync(meta_file.fileno())
        self._files.publish(self._paths, self._tmp, self._meta_tmp)
        return info

    def abort(self) -> None:
        """Best effort and never raising: it runs while another error is on its way out."""
        try:
            self._file.close()
            for tmp in (self._tmp, self._meta_tmp):
                if tmp is not None:
                    tmp.unlink(missing_ok=True)
            self._files.prune(self._paths.directory)
        except OSError as exc:
            logger.warning("local blobs: could not remove a temporary file (%s)", exc.strerror)


def _new_private_file(directory: Path, name: str) -> tuple[Path, BinaryIO]:
    tmp = directory / f".{name}.{secrets.token_hex(8)}{_TMP_SUFFIX}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return tmp, os.fdopen(fd, "wb")


def _fsync_directory(directory: Path) -> None:
    # Makes the renames durable; directories cannot be opened this way on Windows.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
