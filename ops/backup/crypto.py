"""Encryption at rest for backup parts: AES-256-GCM (the ``cryptography`` package) in the
STREAM construction, so parts of any size are encrypted and checked chunk by chunk.

A sealed part is ``MAGIC`` (5 bytes) + a random 7-byte nonce prefix, then records of a
4-byte big-endian length and one AES-GCM ciphertext (plaintext chunk + 16-byte tag). Chunk
i's nonce is prefix + i (4 bytes) + 1 byte that is 1 only on the last chunk, and the part's
name is the associated data: reordering, dropping, truncating or moving chunks between parts
fails authentication, as does a wrong key. A fresh prefix per part keeps nonces unique.
"""

import hashlib
import hmac
import os
import struct
from collections.abc import AsyncIterable, AsyncIterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ops.backup.errors import BackupDamagedError, BackupKeyError

CIPHER_NAME = "AES-256-GCM-STREAM"
MAGIC = b"DBKE1"
PREFIX_BYTES = 7
CHUNK_BYTES = 1024 * 1024
TAG_BYTES = 16
_LENGTH = struct.Struct(">I")
HEADER_BYTES = len(MAGIC) + PREFIX_BYTES
_KEY_ID_LABEL = b"demobackend-backup-key-id"
_MAC_LABEL = b"demobackend-backup-manifest"


class PartCipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise BackupKeyError("The backup encryption key must be 32 bytes (64 hex characters)")
        self._aead = AESGCM(key)
        self._key = key
        # Safe to publish: names the key without revealing anything usable about it.
        self.key_id = hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]

    def __reduce__(self) -> tuple[type["PartCipher"], tuple[bytes]]:
        # Pickled only to reach a restore's own worker processes (blob_copy.py), by pipe.
        return (PartCipher, (self._key,))

    @classmethod
    def from_hex(cls, key_hex: str) -> "PartCipher":
        try:
            return cls(bytes.fromhex(key_hex))
        except ValueError:
            raise BackupKeyError("The backup encryption key must be 64 hex characters") from None

    def mac(self, data: bytes) -> str:
        """Authenticates the manifest: only a key holder can alter it unnoticed."""
        return hmac.new(self._key, _MAC_LABEL + data, hashlib.sha256).hexdigest()

    def seal(self, data: bytes, name: str) -> bytes:
        return b"".join(self._seal_chunks(_rechunk_bytes(data), name))

    async def seal_stream(self, chunks: AsyncIterable[bytes], name: str) -> AsyncIterator[bytes]:
        prefix = os.urandom(PREFIX_BYTES)
        yield MAGIC + prefix
        index = 0
        held: bytes | None = None
        async for block in _rechunk(chunks):
            if held is not None:
                yield self._record(prefix, index, held, final=False, name=name)
                index += 1
            held = block
        yield self._record(prefix, index, held or b"", final=True, name=name)

    def open(self, data: bytes, name: str) -> bytes:
        out = bytearray()
        opener = _Opener(self, name)
        out += opener.feed(data)
        opener.close()
        return bytes(out)

    async def open_stream(self, chunks: AsyncIterable[bytes], name: str) -> AsyncIterator[bytes]:
        opener = _Opener(self, name)
        async for chunk in chunks:
            plain = opener.feed(chunk)
            if plain:
                yield plain
        opener.close()

    def _seal_chunks(self, blocks: list[bytes], name: str) -> list[bytes]:
        prefix = os.urandom(PREFIX_BYTES)
        records = [MAGIC + prefix]
        for index, block in enumerate(blocks):
            final = index == len(blocks) - 1
            records.append(self._record(prefix, index, block, final=final, name=name))
        return records

    def _record(self, prefix: bytes, index: int, block: bytes, *, final: bool, name: str) -> bytes:
        sealed = self._aead.encrypt(_nonce(prefix, index, final), block, name.encode())
        return _LENGTH.pack(len(sealed)) + sealed

    def decrypt_record(
        self, prefix: bytes, index: int, sealed: bytes, final: bool, name: str
    ) -> bytes:
        try:
            return self._aead.decrypt(_nonce(prefix, index, final), sealed, name.encode())
        except InvalidTag:
            raise BackupDamagedError(f"{name}: fails authentication (altered or damaged)") from None


def sealed_size(plain_size: int) -> int:
    """The stored size of a sealed part holding ``plain_size`` bytes."""
    records = max(1, -(-plain_size // CHUNK_BYTES))
    return HEADER_BYTES + records * (_LENGTH.size + TAG_BYTES) + plain_size


class _Opener:
    """Incremental parser of a sealed part: feed stored bytes, get plaintext back."""

    def __init__(self, cipher: PartCipher, name: str) -> None:
        self._cipher = cipher
        self._name = name
        self._buffer = bytearray()
        self._prefix: bytes | None = None
        self._index = 0
        self._ended = False

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out = bytearray()
        if self._prefix is None:
            if len(self._buffer) < HEADER_BYTES:
                return b""
            if bytes(self._buffer[: len(MAGIC)]) != MAGIC:
                raise BackupDamagedError(f"{self._name}: not an encrypted backup part")
            self._prefix = bytes(self._buffer[len(MAGIC) : HEADER_BYTES])
            del self._buffer[:HEADER_BYTES]
        while len(self._buffer) >= _LENGTH.size:
            if self._ended:
                raise BackupDamagedError(f"{self._name}: data after the last chunk")
            (length,) = _LENGTH.unpack_from(self._buffer)
            if length < TAG_BYTES or length > CHUNK_BYTES + TAG_BYTES:
                raise BackupDamagedError(f"{self._name}: malformed chunk")
            if len(self._buffer) < _LENGTH.size + length:
                break
            sealed = bytes(self._buffer[_LENGTH.size : _LENGTH.size + length])
            del self._buffer[: _LENGTH.size + length]
            out += self._open_record(sealed)
        return bytes(out)

    def _open_record(self, sealed: bytes) -> bytes:
        assert self._prefix is not None
        # The last chunk is the only one sealed with the final flag: try as non-final
        # unless nothing follows; a truncated part never authenticates as final.
        try:
            plain = self._cipher._aead.decrypt(
                _nonce(self._prefix, self._index, False), sealed, self._name.encode()
            )
        except InvalidTag:
            plain = self._cipher.decrypt_record(self._prefix, self._index, sealed, True, self._name)
            self._ended = True
        self._index += 1
        return plain

    def close(self) -> None:
        if not self._ended or self._buffer:
            raise BackupDamagedError(f"{self._name}: truncated")


def _nonce(prefix: bytes, index: int, final: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if final else 0)


def _rechunk_bytes(data: bytes) -> list[bytes]:
    if not data:
        return [b""]
    return [data[start : start + CHUNK_BYTES] for start in range(0, len(data), CHUNK_BYTES)]


async def _rechunk(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        while len(buffer) >= CHUNK_BYTES:
            yield bytes(buffer[:CHUNK_BYTES])
            del buffer[:CHUNK_BYTES]
    if buffer:
        yield bytes(buffer)
