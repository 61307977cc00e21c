"""A user's files as a tar stream: each file's bytes, then ``manifest.json``. Built from
async chunk streams, never holding a whole file; deterministic (fixed times and modes), so
two passes over unchanged data give the same bytes and the same SHA-256."""

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from domain.errors import StoreUnavailableError
from domain.models import FileRecord

_BLOCK = 512


@dataclass(frozen=True, slots=True)
class ArchivedFile:
    """A file of the export and where its bytes sit in the archive, so the archive's
    manifest and its members name each file the same way."""

    record: FileRecord
    path: str  # inside the archive


def archive_path(record: FileRecord) -> str:
    # Ids make paths unique; names are kept readable, minus what a path cannot hold.
    safe = "".join("_" if ch in "/\\\0" else ch for ch in record.name) or "file"
    return f"files/{record.id}/{safe}"


def _header(path: str, size: int, mtime: int) -> bytes:
    # Imported here: only an export writes headers, and tarfile (with what it pulls in) is
    # ~1 ms of every cold start that never exports.
    import tarfile

    info = tarfile.TarInfo(path)
    info.size, info.mtime, info.mode = size, mtime, 0o600
    return info.tobuf(format=tarfile.PAX_FORMAT)


def _padding(size: int) -> bytes:
    return b"\0" * (-size % _BLOCK)


async def tar_stream(
    files: list[ArchivedFile],
    read: Callable[[str], AsyncIterator[bytes]],
    manifest: Callable[[dict[str, str]], dict[str, Any]],
    mtime: int,
) -> AsyncIterator[bytes]:
    """The archive's chunks. ``manifest`` receives each file id's SHA-256 (computed while
    streaming) and returns the manifest to append."""
    digests: dict[str, str] = {}
    for entry in files:
        yield _header(entry.path, entry.record.size, mtime)
        digest, sent = hashlib.sha256(), 0
        async for chunk in read(entry.record.blob_key):
            digest.update(chunk)
            sent += len(chunk)
            yield chunk
        if sent != entry.record.size:
            # The header promised a size; a different one would corrupt every entry after.
            raise StoreUnavailableError("A file changed while it was being archived")
        digests[entry.record.id] = digest.hexdigest()
        yield _padding(sent)
    body = json.dumps(manifest(digests), indent=2, sort_keys=True).encode()
    yield _header("manifest.json", len(body), mtime)
    yield body + _padding(len(body))
    yield b"\0" * (2 * _BLOCK)  # end of archive
