"""Reading and writing a backup's parts: gzip'd JSON lines, optionally sealed (crypto.py),
each checked against the manifest's SHA-256 and size before anything inside is trusted."""

import hashlib
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

from ops.backup.crypto import PartCipher
from ops.backup.errors import BackupDamagedError
from ops.backup.layout import PartEntry, backup_path, blob_name
from ops.backup.targets import Target

# Bounds on what a (possibly hostile) part may make us hold in memory.
MAX_PART_BYTES = 512 * 1024 * 1024
MAX_PLAIN_PART_BYTES = 2 * 1024 * 1024 * 1024
_GZIP = 31  # zlib wbits for the gzip container


def encode_records(records: list[dict[str, Any]]) -> bytes:
    lines = b"".join(
        json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
        for record in records
    )
    compressor = zlib.compressobj(6, zlib.DEFLATED, _GZIP)
    return compressor.compress(lines) + compressor.flush()


async def write_part(
    target: Target,
    backup_id: str,
    name: str,
    records: list[dict[str, Any]],
    cipher: PartCipher | None,
) -> PartEntry:
    path = backup_path(backup_id, name)
    data = encode_records(records)
    if cipher is not None:
        data = cipher.seal(data, path)
    await target.write(path, _one(data))
    return PartEntry(name, hashlib.sha256(data).hexdigest(), len(data), len(records))


async def read_part(
    target: Target, backup_id: str, entry: PartEntry, cipher: PartCipher | None
) -> list[dict[str, Any]]:
    """The records of one part, after every check; BackupDamagedError names the part."""
    path = backup_path(backup_id, entry.name)
    if not 0 <= entry.size <= MAX_PART_BYTES:
        raise BackupDamagedError(f"{entry.name}: implausible size in the manifest")
    data = await target.read_all(path, entry.size)
    if len(data) != entry.size:
        raise BackupDamagedError(
            f"{entry.name}: {len(data)} bytes stored, {entry.size} expected (truncated)"
        )
    if hashlib.sha256(data).hexdigest() != entry.sha256:
        raise BackupDamagedError(f"{entry.name}: SHA-256 does not match the manifest (altered)")
    if cipher is not None:
        data = cipher.open(data, path)
    records = _decode(data, entry.name)
    if len(records) != entry.records:
        raise BackupDamagedError(
            f"{entry.name}: {len(records)} records inside, {entry.records} expected"
        )
    return records


def _decode(data: bytes, name: str) -> list[dict[str, Any]]:
    try:
        inflater = zlib.decompressobj(_GZIP)
        plain = inflater.decompress(data, MAX_PLAIN_PART_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            raise BackupDamagedError(f"{name}: compressed data is incomplete or too large")
        records = [json.loads(line) for line in plain.splitlines() if line]
    except (zlib.error, ValueError):
        raise BackupDamagedError(f"{name}: not readable gzip'd JSON lines") from None
    if not all(isinstance(record, dict) for record in records):
        raise BackupDamagedError(f"{name}: a record is not a JSON object")
    return records


async def blob_chunks(
    target: Target, sha256: str, cipher: PartCipher | None
) -> AsyncIterator[bytes]:
    """The plaintext of a backed-up blob, streamed (the caller checks its hash)."""
    name = blob_name(sha256)
    stored = target.read(name)
    chunks = stored if cipher is None else cipher.open_stream(stored, name)
    async for chunk in chunks:
        yield chunk


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data
