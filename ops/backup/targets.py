"""Where backups live: a directory or an S3 prefix (``s3://bucket/prefix``), behind one
small interface. Names are ``/``-separated paths relative to the destination's root.

Writes are atomic: a directory target writes a temporary file beside the destination and
renames it into place; an S3 target uploads the whole object in one PutObject (or a
multipart upload, which is invisible until completed). A name that exists is therefore
complete: an interrupted backup leaves no half-written part under a final name.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ParamSpec, Protocol, TypeVar

from ops.backup.errors import BackupDamagedError, BackupError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

READ_CHUNK_BYTES = 256 * 1024
SPOOL_BYTES = 8 * 1024 * 1024
_TMP_DIR = ".tmp"
S3_SCHEME = "s3://"

P = ParamSpec("P")
T = TypeVar("T")


class Target(Protocol):
    description: str  # for messages: the path or s3:// URL

    async def list(self, prefix: str) -> dict[str, int]:
        """name -> size of everything under ``prefix`` (a folder name ending in "/")."""
        ...

    def read(self, name: str) -> AsyncIterator[bytes]:
        """The bytes of ``name`` in chunks; BackupDamagedError when it is missing."""
        ...

    async def read_all(self, name: str, limit: int) -> bytes:
        """The whole of a small part; BackupDamagedError when missing or over ``limit``."""
        ...

    async def write(self, name: str, chunks: AsyncIterable[bytes]) -> int:
        """Store ``name`` atomically; returns the bytes written."""
        ...

    async def flush(self) -> None:
        """Make every write so far durable (before the manifest that names them)."""
        ...


def is_s3_spec(spec: str) -> bool:
    return spec.startswith(S3_SCHEME)


def open_target(spec: str, s3_client: Callable[[], S3Client]) -> Target:
    """``s3://bucket/prefix`` or a directory path; the S3 client is built only if needed."""
    if is_s3_spec(spec):
        bucket, _, prefix = spec[len(S3_SCHEME) :].partition("/")
        if not bucket:
            raise BackupError(f"{spec}: an S3 destination is s3://BUCKET[/PREFIX]")
        return S3Target(s3_client(), bucket, prefix.strip("/"))
    if not spec:
        raise BackupError("a backup destination is a directory or s3://BUCKET[/PREFIX]")
    return DirectoryTarget(Path(spec))


async def _io(description: str, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    try:
        return await asyncio.to_thread(func, *args, **kwargs)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise BackupError(f"{description}: {exc.strerror or type(exc).__name__}") from None


class DirectoryTarget:
    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))
        self.description = str(self.root)

    def _path(self, name: str) -> Path:
        parts = name.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise BackupDamagedError(f"invalid part name {name!r}")
        return self.root.joinpath(*parts)

    async def list(self, prefix: str) -> dict[str, int]:
        return await _io(self.description, self._list, prefix)

    def _list(self, prefix: str) -> dict[str, int]:
        base = self._path(prefix.rstrip("/"))
        found: dict[str, int] = {}
        for directory, _, names in os.walk(base):
            for name in names:
                path = Path(directory) / name
                try:
                    size = path.stat().st_size
                except FileNotFoundError:
                    continue
                found[path.relative_to(self.root).as_posix()] = size
        return found

    async def read(self, name: str) -> AsyncIterator[bytes]:
        path = self._path(name)
        try:
            file, first = await _io(self.description, _open_and_read, path)
        except FileNotFoundError:
            raise BackupDamagedError(f"{name} is missing") from None
        if file is None:  # read whole in that one trip to a thread (most blobs are small)
            yield first
            return
        try:
            chunk = first
            while chunk:
                yield chunk
                chunk = await _io(self.description, file.read, READ_CHUNK_BYTES)
        finally:
            await asyncio.to_thread(file.close)

    async def read_all(self, name: str, limit: int) -> bytes:
        return await _read_all(self, name, limit)

    async def write(self, name: str, chunks: AsyncIterable[bytes]) -> int:
        final = self._path(name)
        tmp_dir = self.root / _TMP_DIR
        await _io(self.description, tmp_dir.mkdir, mode=0o700, parents=True, exist_ok=True)
        tmp = tmp_dir / f"{secrets.token_hex(8)}.part"
        file = await _io(self.description, open, tmp, "xb")
        written = 0
        try:
            try:
                async for chunk in chunks:
                    await _io(self.description, file.write, chunk)
                    written += len(chunk)
            finally:
                await _io(self.description, file.close)
            await _io(self.description, _publish, tmp, final)
        except BaseException:
            await asyncio.to_thread(tmp.unlink, missing_ok=True)
            raise
        return written

    async def flush(self) -> None:
        # One sync for every part written so far: cheaper than an fsync per blob.
        await _io(self.description, os.sync)


def _publish(tmp: Path, final: Path) -> None:
    final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.replace(tmp, final)


async def _read_all(target: Target, name: str, limit: int) -> bytes:
    data = bytearray()
    async for chunk in target.read(name):
        data += chunk
        if len(data) > limit:
            raise BackupDamagedError(f"{name} is larger than the manifest says")
    return bytes(data)


class S3Target:
    def __init__(self, client: S3Client, bucket: str, prefix: str) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = f"{prefix}/" if prefix else ""
        self.description = f"s3://{bucket}/{prefix}".rstrip("/")

    async def _call(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return await asyncio.to_thread(func, *args, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "?"))
            if code in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(code) from None
            raise BackupError(f"{self.description}: S3 answered {code}") from None
        except BotoCoreError as exc:
            raise BackupError(f"{self.description}: {type(exc).__name__}") from None

    async def list(self, prefix: str) -> dict[str, int]:
        def run() -> dict[str, int]:
            found: dict[str, int] = {}
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=self._prefix + prefix):
                for entry in page.get("Contents", []):
                    found[entry["Key"][len(self._prefix) :]] = entry["Size"]
            return found

        return await self._call(run)

    async def read(self, name: str) -> AsyncIterator[bytes]:
        try:
            response = await self._call(
                self._client.get_object, Bucket=self._bucket, Key=self._prefix + name
            )
        except FileNotFoundError:
            raise BackupDamagedError(f"{name} is missing") from None
        body = response["Body"]
        try:
            while chunk := await self._call(body.read, READ_CHUNK_BYTES):
                yield chunk
        finally:
            await asyncio.to_thread(body.close)

    async def read_all(self, name: str, limit: int) -> bytes:
        return await _read_all(self, name, limit)

    async def write(self, name: str, chunks: AsyncIterable[bytes]) -> int:
        # Spooled: small parts stay in memory, large blobs go to a temporary file, and
        # upload_fileobj sends them as one object (multipart beyond its threshold).
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            written = 0
            async for chunk in chunks:
                await asyncio.to_thread(spool.write, chunk)
                written += len(chunk)
            spool.seek(0)
            extra: dict[str, Any] = {"ServerSideEncryption": "AES256"}
            await self._call(
                self._client.upload_fileobj,
                spool,
                self._bucket,
                self._prefix + name,
                ExtraArgs=extra,
            )
        return written

    async def flush(self) -> None:
        return None  # S3 acknowledges a write only once it is durable


def _open_and_read(path: Path) -> tuple[BinaryIO | None, bytes]:
    """The first chunk of ``path``, and the open file if more may follow (else closed)."""
    file = open(path, "rb")  # closed here, or by the caller when more may follow
    try:
        first = file.read(READ_CHUNK_BYTES)
        if len(first) < READ_CHUNK_BYTES:
            file.close()
            return None, first
    except BaseException:
        file.close()
        raise
    return file, first
