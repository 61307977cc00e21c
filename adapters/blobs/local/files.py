"""The files behind the local blob store. Blocking: called in a worker thread, except the
``*_if_free`` methods (a few file-system calls, no fsync, never waiting for the lock).

Layout under ``root``: the bytes of key ``files/abc/blob`` are at ``root/files/abc/blob``,
their metadata (content type, size, SHA-256, upload time, confirmed) at
``root/files/abc/.blob.meta.json``. Every upload is written unconfirmed; ``confirm`` flips
the flag and ``sweep_unconfirmed`` removes unconfirmed blobs uploaded before a cut-off.
Metadata written before the flag existed counts as confirmed: nothing is swept that this
code did not itself mark as an unconfirmed upload.
A copy is a second name (hard link) of its source's bytes; a copy of an unconfirmed
blob becomes durable when it is confirmed, not before (``_link_copy``).
Temporary files are ``.<name>.<random>.tmp`` in the same directory, so ``os.replace`` publishes
them atomically. Key segments never start with "." (adapters/blobs/rules.py), so neither kind
of hidden file can collide with a key.

One process owns a folder: data and metadata are replaced as a pair under a lock held by
this process, so two server processes sharing one folder could briefly pair new bytes
with old metadata.
"""

import enum
import errno
import hashlib
import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from adapters.blobs.rules import validate_key
from domain.errors import ConflictError, InvalidInputError, NotFoundError, StoreUnavailableError
from domain.ports import BlobInfo

logger = logging.getLogger(__name__)

READ_CHUNK_BYTES = 256 * 1024
UNAVAILABLE_MESSAGE = "Blob storage is unavailable"
NOT_FOUND_MESSAGE = "Blob not found"
OCCUPIED_MESSAGE = "This upload already holds bytes; start a new upload to send other bytes"

_META_SUFFIX = ".meta.json"
_TMP_SUFFIX = ".tmp"
_CREATE_ATTEMPTS = 3
_CONFIRM_ATTEMPTS = 5
# link(2) refusals that mean "no links here" (file system, limits), not a failure: the
# copy then goes by bytes.
_NO_LINK_ERRNOS = frozenset(
    {errno.EPERM, errno.EMLINK, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}
)


class Busy(enum.Enum):
    BUSY = "busy"


BUSY = Busy.BUSY


@dataclass(frozen=True, slots=True)
class BlobPaths:
    directory: Path
    data: Path
    meta: Path


@dataclass(frozen=True, slots=True)
class BlobMeta:
    info: BlobInfo
    confirmed: bool
    uploaded_at: float | None  # epoch seconds by the store's clock; None in old metadata

    def to_json(self) -> bytes:
        meta = {
            "contentType": self.info.content_type,
            "size": self.info.size,
            "sha256": self.info.sha256,
            "uploadedAt": self.uploaded_at,
            "confirmed": self.confirmed,
        }
        return json.dumps(meta).encode("utf-8")


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
            return self._head(key, paths)

    def head_if_free(self, key: str) -> BlobInfo | Busy | None:
        """As head, but BUSY at once instead of waiting for the lock: for the event loop,
        which must never wait for a thread's file work (store.py says why it asks)."""
        paths = self.paths(key)
        self.check_inside(paths.directory)
        if not self._lock.acquire(blocking=False):
            return BUSY
        try:
            return self._head(key, paths)
        finally:
            self._lock.release()

    def _head(self, key: str, paths: BlobPaths) -> BlobInfo | None:
        info = self._read_meta(paths)
        if info is None or not self._data_agrees(key, paths, info):
            return None
        return info

    def _data_agrees(self, key: str, paths: BlobPaths, info: BlobInfo) -> bool:
        try:
            size = os.stat(paths.data).st_size
        except (FileNotFoundError, NotADirectoryError):
            return False
        return self._sizes_agree(key, info, size)

    def open_blob(self, key: str) -> tuple[BinaryIO, BlobInfo] | None:
        opened = self._open(key)
        return (opened[0], opened[1].info) if opened is not None else None

    def _open(self, key: str) -> tuple[BinaryIO, BlobMeta] | None:
        paths = self.paths(key)
        self.check_inside(paths.directory)
        with self._lock:
            record = self._read_record(paths)
            if record is None:
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
        if not self._sizes_agree(key, record.info, size):
            file.close()
            return None
        return file, record

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

    def adopt(self, key: str, path: Path) -> "PendingBlob":
        """A PendingBlob of the file at ``path`` (written already, on this file system),
        to be appended to and committed at ``key``. An abort leaves the file where it was:
        it is the caller's (a multipart upload's parts are in it)."""
        paths = self.paths(key)
        self.check_inside(paths.directory)
        self._make_directories(paths.directory)
        self.check_inside(paths.directory)
        file = open(path, "r+b")  # closed by commit or abort
        file.seek(0, os.SEEK_END)
        pending = PendingBlob(self, paths, path, file, keep_on_abort=True)
        pending.size = file.tell()
        return pending

    def _make_directories(self, directory: Path) -> None:
        # One level at a time: mkdir(parents=True) would give the intermediate levels
        # the umask's mode instead of 0700.
        current = self.root
        current.mkdir(mode=0o700, parents=True, exist_ok=True)
        for part in directory.relative_to(self.root).parts:
            current = current / part
            current.mkdir(mode=0o700, exist_ok=True)

    def publish(
        self,
        paths: BlobPaths,
        data_tmp: Path,
        meta_tmp: Path,
        *,
        exclusive: bool = False,
        durable: bool = True,
    ) -> None:
        """Move the temporary files into place. ``exclusive``: only where no blob is, else
        ConflictError and nothing changes. The data file is then linked, not renamed, into
        place: link(2) refuses an existing target, so of two racing writers exactly one
        wins (the lock pairs data with metadata within this process). ``durable=False``
        leaves the directory unsynced, for an unconfirmed copy (``_link_copy``)."""
        with self._lock:
            if exclusive:
                self._link_new(paths, data_tmp)
            else:
                os.replace(data_tmp, paths.data)
            os.replace(meta_tmp, paths.meta)
        # After a link the temporary name is a second name of the blob's bytes.
        data_tmp.unlink(missing_ok=True)
        if durable:
            _fsync_directory(paths.directory)

    def _link_new(self, paths: BlobPaths, data_tmp: Path) -> None:
        try:
            os.link(data_tmp, paths.data)
        except FileExistsError:
            if self._read_record(paths) is not None:
                raise ConflictError(OCCUPIED_MESSAGE) from None
            # Bytes without metadata are no blob (a crash between the two writes, or
            # a delete interrupted halfway): nothing to protect, so take the place.
            os.replace(data_tmp, paths.data)

    def delete(self, key: str) -> None:
        paths = self.paths(key)
        self.check_inside(paths.directory)
        with self._lock:
            _remove_pair(paths)
        self.prune(paths.directory)

    def delete_if_free(self, key: str) -> Busy | None:
        """As delete (two unlinks, no fsync), but BUSY at once, having removed nothing,
        instead of waiting for the lock: for the event loop."""
        paths = self.paths(key)
        self.check_inside(paths.directory)
        if not self._lock.acquire(blocking=False):
            return BUSY
        try:
            _remove_pair(paths)
        finally:
            self._lock.release()
        self.prune(paths.directory)
        return None

    def copy(self, source_key: str, dest_key: str, *, now: float) -> None:
        """The copy is confirmed exactly when the source is (read with the bytes, under
        the lock); its upload time is ``now``, as S3 dates a copy by its creation.

        The copy's bytes are a second name (a hard link) of the source's: nothing here
        ever writes into a published data file, only replaces names, so the bytes behind
        either name can never change. Where the file system refuses links, they are
        copied and hashed again."""
        if source_key != dest_key and self._link_copy(source_key, dest_key, now=now):
            return
        opened = self._open(source_key)
        if opened is None:
            raise NotFoundError(NOT_FOUND_MESSAGE)
        source, record = opened
        with source:
            if source_key == dest_key:
                return
            pending = self.create(dest_key)
            try:
                while chunk := source.read(READ_CHUNK_BYTES):
                    pending.write(chunk)
                if pending.sha256 != record.info.sha256:
                    # Copying would hide the damage behind freshly computed metadata.
                    logger.error("local blobs: stored bytes of a blob no longer match its hash")
                    raise StoreUnavailableError(UNAVAILABLE_MESSAGE)
                pending.commit(
                    record.info.content_type, uploaded_at=now, confirmed=record.confirmed
                )
            except BaseException:
                pending.abort()
                raise

    def _link_copy(self, source_key: str, dest_key: str, *, now: float) -> bool:
        """The copy as a link to the source's bytes; False, having done nothing, where no
        link can be made. NotFoundError when there is no source.

        The linked bytes were fsynced when they were stored. A copy of an unconfirmed
        blob is itself unconfirmed, and becomes durable when it is confirmed (confirm
        fsyncs its new metadata and the directory, which holds the link too), so it costs
        no fsync of its own: a crash before that can lose only an unconfirmed copy, which
        the lifecycle would remove anyway. A copy of a confirmed blob is durable at once."""
        source, dest = self.paths(source_key), self.paths(dest_key)
        self.check_inside(source.directory)
        self.check_inside(dest.directory)
        try:
            self._make_directories(dest.directory)
        except FileNotFoundError:
            return False  # a concurrent prune: the copy by bytes makes them again
        self.check_inside(dest.directory)
        data_tmp = _tmp_path(dest.directory, dest.data.name)
        with self._lock:
            record = self._read_record(source)
            if record is not None and self._data_agrees(source_key, source, record.info):
                try:
                    os.link(source.data, data_tmp)
                except FileNotFoundError:
                    return False  # the directory was pruned meanwhile: as above
                except OSError as exc:
                    if exc.errno in _NO_LINK_ERRNOS:
                        return False
                    raise
            else:
                record = None
        if record is None:
            self.prune(dest.directory)  # made above, for nothing
            raise NotFoundError(NOT_FOUND_MESSAGE)
        meta = BlobMeta(record.info, record.confirmed, now).to_json()
        meta_tmp: Path | None = None
        try:
            if record.confirmed:
                meta_tmp = _durable_file(dest, meta)
            else:
                meta_tmp = _written_file(dest, meta)
            self.publish(dest, data_tmp, meta_tmp, durable=record.confirmed)
        except BaseException:
            for tmp in (data_tmp, meta_tmp):
                if tmp is not None:
                    tmp.unlink(missing_ok=True)
            raise
        return True

    def copy_if_free(self, source_key: str, dest_key: str, *, now: float) -> Busy | None:
        """As copy, for the event loop: the copy of an unconfirmed blob into a folder that
        exists is a link and an unsynced metadata file (``_link_copy`` says why no fsync),
        a few file-system calls, made here when the lock is free at once. BUSY, having
        changed nothing, in every other case (the lock held, a confirmed or missing source,
        no link possible): then copy, on a worker thread."""
        source, dest = self.paths(source_key), self.paths(dest_key)
        self.check_inside(source.directory)
        if source_key == dest_key or not dest.directory.is_dir():
            return BUSY
        self.check_inside(dest.directory)
        if not self._lock.acquire(blocking=False):
            return BUSY
        try:
            record = self._read_record(source)
            if (
                record is None
                or record.confirmed
                or not self._data_agrees(source_key, source, record.info)
            ):
                return BUSY
            data_tmp = _tmp_path(dest.directory, dest.data.name)
            meta_tmp: Path | None = None
            try:
                os.link(source.data, data_tmp)
                meta_tmp = _written_file(dest, BlobMeta(record.info, False, now).to_json())
                os.replace(data_tmp, dest.data)
                os.replace(meta_tmp, dest.meta)
            except OSError as exc:
                for tmp in (data_tmp, meta_tmp):
                    if tmp is not None:
                        tmp.unlink(missing_ok=True)
                if isinstance(exc, FileNotFoundError) or exc.errno in _NO_LINK_ERRNOS:
                    return BUSY
                raise
        finally:
            self._lock.release()
        return None

    def confirm(self, key: str) -> None:
        """Mark the blob at ``key`` confirmed; NotFoundError when there is none (as head
        sees it). The confirmed metadata is written and fsynced outside the lock (an fsync
        under it held up every other blob's reads: a head waited behind another upload's
        disk), then swapped in under the lock only if the metadata is still the one it was
        made from, so a concurrent upload's fresh metadata is never overwritten with the
        old blob's. If it changed, the blob is looked at again; the last attempt holds the
        lock throughout, as every attempt once did, so confirming always ends."""
        paths = self.paths(key)
        self.check_inside(paths.directory)
        for _ in range(_CONFIRM_ATTEMPTS - 1):
            with self._lock:
                record = self._unconfirmed_record(key, paths)
            if record is None:
                return
            tmp = _durable_file(paths, BlobMeta(record.info, True, record.uploaded_at).to_json())
            try:
                with self._lock:
                    if self._unconfirmed_record(key, paths) == record:
                        os.replace(tmp, paths.meta)
                        break
            finally:
                tmp.unlink(missing_ok=True)  # gone already once replaced
        else:
            with self._lock:
                record = self._unconfirmed_record(key, paths)
                if record is None:
                    return
                meta = BlobMeta(record.info, True, record.uploaded_at).to_json()
                tmp = _durable_file(paths, meta)
                try:
                    os.replace(tmp, paths.meta)
                finally:
                    tmp.unlink(missing_ok=True)
        _fsync_directory(paths.directory)

    def _unconfirmed_record(self, key: str, paths: BlobPaths) -> BlobMeta | None:
        """Under the lock: the blob's metadata, None when it is confirmed already;
        NotFoundError when there is no blob."""
        record = self._read_record(paths)
        if record is None or not self._data_agrees(key, paths, record.info):
            raise NotFoundError(NOT_FOUND_MESSAGE)
        return None if record.confirmed else record

    def sweep_unconfirmed(self, uploaded_before: float) -> int:
        """Delete every unconfirmed blob uploaded before ``uploaded_before`` (epoch
        seconds); return how many. Each blob is re-read and removed under the lock, so a
        concurrent confirm or re-upload wins; files vanishing meanwhile are skipped."""
        removed = 0
        # os.walk skips unreadable or vanished directories and never follows symlinks.
        for directory, _, names in os.walk(self.root):
            for name in names:
                if not (name.startswith(".") and name.endswith(_META_SUFFIX)):
                    continue
                data_name = name[1 : -len(_META_SUFFIX)]
                if not data_name:
                    continue
                data = Path(directory) / data_name
                paths = BlobPaths(data.parent, data, data.parent / name)
                if self._remove_if_stale(paths, uploaded_before):
                    removed += 1
                    self.prune(paths.directory)
        if removed:
            logger.info("local blobs: swept %d unconfirmed upload(s)", removed)
        return removed

    def _remove_if_stale(self, paths: BlobPaths, uploaded_before: float) -> bool:
        with self._lock:
            record = self._read_record(paths)
            if record is None or record.confirmed:
                return False
            uploaded_at = record.uploaded_at
            if uploaded_at is None:
                try:
                    uploaded_at = paths.meta.stat().st_mtime
                except (FileNotFoundError, NotADirectoryError):
                    return False
            if uploaded_at >= uploaded_before:
                return False
            _remove_pair(paths)
        return True

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
        record = self._read_record(paths)
        return record.info if record is not None else None

    def _read_record(self, paths: BlobPaths) -> BlobMeta | None:
        try:
            raw = paths.meta.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        try:
            meta = json.loads(raw)
            info = BlobInfo(
                size=meta["size"], content_type=meta["contentType"], sha256=meta["sha256"]
            )
            record = BlobMeta(
                info, meta.get("confirmed", True), _epoch_or_none(meta.get("uploadedAt"))
            )
            valid = (
                isinstance(info.size, int)
                and isinstance(info.content_type, str)
                and isinstance(info.sha256, str)
                and isinstance(record.confirmed, bool)
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            valid = False
        if not valid:
            logger.warning("local blobs: unreadable metadata file; treating the blob as missing")
            return None
        return record

    @staticmethod
    def _sizes_agree(key: str, info: BlobInfo, size: int) -> bool:
        if size != info.size:
            logger.warning("local blobs: size of %s disagrees with its metadata", key)
            return False
        return True


class PendingBlob:
    """A temporary file beside the blob's final place: it becomes the blob on commit and
    leaves no trace on abort."""

    def __init__(
        self,
        files: BlobFiles,
        paths: BlobPaths,
        tmp: Path,
        file: BinaryIO,
        *,
        keep_on_abort: bool = False,
    ) -> None:
        self._files = files
        self._paths = paths
        self._tmp = tmp
        self._keep_on_abort = keep_on_abort
        self._meta_tmp: Path | None = None
        self._file = file
        self._digest = hashlib.sha256()
        self._unhashed = False  # bytes went in by append_copy and no digest was adopted
        self.size = 0

    @property
    def sha256(self) -> str:
        if self._unhashed:
            raise RuntimeError("bytes were appended unhashed and no digest was adopted")
        return self._digest.hexdigest()

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._digest.update(data)
        self.size += len(data)

    def append_copy(self, source: int, count: int, offset: int = 0) -> None:
        """Append ``count`` bytes of the open file ``source`` from ``offset`` by a kernel
        copy, never through this process's memory. They are not hashed here: the caller
        hashes them and hands the SHA-256 of all the bytes over with ``adopt_digest``."""
        self._file.flush()
        copy_range(source, self._file.fileno(), count, offset)
        self.size += count
        self._unhashed = True

    def adopt_digest(self, digest: "hashlib._Hash") -> None:
        """``digest``: the caller's SHA-256 of every byte written, in order."""
        self._digest = digest
        self._unhashed = False

    def commit(
        self,
        content_type: str,
        *,
        uploaded_at: float,
        confirmed: bool = False,
        exclusive: bool = False,
    ) -> BlobInfo:
        info = BlobInfo(size=self.size, content_type=content_type, sha256=self.sha256)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        meta = BlobMeta(info, confirmed, uploaded_at)
        self._meta_tmp, meta_file = _new_private_file(self._paths.directory, self._paths.data.name)
        with meta_file:
            meta_file.write(meta.to_json())
            meta_file.flush()
            os.fsync(meta_file.fileno())
        self._files.publish(self._paths, self._tmp, self._meta_tmp, exclusive=exclusive)
        return info

    def abort(self) -> None:
        """Best effort and never raising: it runs while another error is on its way out."""
        try:
            self._file.close()
            for tmp in (self._tmp, self._meta_tmp):
                if tmp is not None and not (tmp is self._tmp and self._keep_on_abort):
                    tmp.unlink(missing_ok=True)
            self._files.prune(self._paths.directory)
        except OSError as exc:
            logger.warning("local blobs: could not remove a temporary file (%s)", exc.strerror)


def _remove_pair(paths: BlobPaths) -> None:
    """Under the lock. Metadata first: without it the blob is already gone for readers."""
    for path in (paths.meta, paths.data):
        try:
            if not path.is_dir():
                path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            pass


def _epoch_or_none(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("uploadedAt must be a number")
    return float(value)


def _tmp_path(directory: Path, name: str) -> Path:
    return directory / f".{name}.{secrets.token_hex(8)}{_TMP_SUFFIX}"


def _new_private_file(directory: Path, name: str) -> tuple[Path, BinaryIO]:
    tmp = _tmp_path(directory, name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return tmp, os.fdopen(fd, "wb")


def _written_file(paths: BlobPaths, content: bytes) -> Path:
    """As _durable_file, without the fsync."""
    tmp, file = _new_private_file(paths.directory, paths.data.name)
    try:
        with file:
            file.write(content)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _durable_file(paths: BlobPaths, content: bytes) -> Path:
    """A new private file beside the blob holding ``content``, on disk (fsynced)."""
    tmp, file = _new_private_file(paths.directory, paths.data.name)
    try:
        with file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def copy_range(source: int, dest: int, count: int, offset: int = 0) -> None:
    """Copy ``count`` bytes from ``offset`` of ``source`` to ``dest``'s offset (advancing
    it) inside the kernel; through a buffer where the file system cannot. OSError if
    ``source`` holds fewer bytes."""
    copied = 0
    if hasattr(os, "copy_file_range"):  # Linux only
        try:
            while copied < count:
                done = os.copy_file_range(source, dest, count - copied, offset + copied)
                if done == 0:
                    raise OSError(errno.EIO, "source file is shorter than expected")
                copied += done
            return
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
    while copied < count:
        chunk = os.pread(source, min(READ_CHUNK_BYTES * 4, count - copied), offset + copied)
        if not chunk:
            raise OSError(errno.EIO, "source file is shorter than expected")
        view = memoryview(chunk)
        while view:
            view = view[os.write(dest, view) :]
        copied += len(chunk)


def _fsync_directory(directory: Path) -> None:
    # Makes the renames durable; directories cannot be opened this way on Windows.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
