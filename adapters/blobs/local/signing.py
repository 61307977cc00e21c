"""Signed, expiring URLs for the local blob store (the query parameters, their HMAC and
its checking), and the key file that signs them."""

import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from adapters.private_files import PrivateFileError, load_or_create_private_file
from domain.errors import ForbiddenError

logger = logging.getLogger(__name__)

SIGNING_KEY_BYTES = 32
# One message for a bad, tampered, missing or expired signature: a prober learns nothing.
FORBIDDEN_MESSAGE = "Invalid or expired signature"

_SIGNATURE_VERSION = "v1"
_DIGITS = re.compile(r"[0-9]{1,19}")


# --- signing key ----------------------------------------------------------------------


class BlobSigningKeyError(Exception):
    """The signing key file cannot be read, used or written; the message names the file."""


def load_or_create_signing_key(path: Path) -> bytes:
    """The HMAC key for local blob URLs, kept hex-encoded in a 0600 file so URLs stay
    valid across restarts. Generated on first use; an unusable file is never replaced
    silently (BlobSigningKeyError). Blocking: call it from the composition root."""
    try:
        loaded = load_or_create_private_file(path, _new_key_file_content)
        text = loaded.content.decode("ascii")
    except PrivateFileError as exc:
        raise BlobSigningKeyError(
            f"Cannot {exc.action} the blob signing key file {path}: {exc.reason}"
        ) from None
    except UnicodeDecodeError:
        raise BlobSigningKeyError(
            f"Cannot read the blob signing key file {path}: not hex text"
        ) from None
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) < SIGNING_KEY_BYTES:
        raise BlobSigningKeyError(
            f"The blob signing key file {path} does not hold {SIGNING_KEY_BYTES} hex-encoded "
            "bytes; move it away to have a new one generated"
        )
    if loaded.created:
        logger.info("local blobs: generated a new URL signing key in %s", path)
    if loaded.readable_by_others:
        logger.warning("blob signing key %s is readable by other users; chmod 600 it", path)
    return key


def _new_key_file_content() -> bytes:
    return (secrets.token_bytes(SIGNING_KEY_BYTES).hex() + "\n").encode("ascii")


# --- URL signatures -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedUpload:
    """What an upload URL promises the store will accept."""

    size: int
    content_type: str
    sha256: str | None


@dataclass(frozen=True, slots=True)
class SignedPart:
    """What a part URL promises: exactly ``size`` bytes as this part of this upload."""

    upload_id: str
    part_number: int
    size: int
    sha256: str | None  # lowercase hex: the x-amz-checksum-sha256 the part must carry


class UrlSigner:
    """HMAC-SHA256 over everything the store enforces (method, key, size, type, SHA-256,
    expiry) so that changing any of them in the URL voids it. Query parameters: uploads
    ``size``, ``contentType``, ``sha256`` (when declared), ``expires``, ``signature``;
    downloads ``filename``, ``expires``, ``signature``. ``expires`` is Unix seconds."""

    def __init__(self, key: bytes) -> None:
        if len(key) < SIGNING_KEY_BYTES:
            raise ValueError(f"signing key must be at least {SIGNING_KEY_BYTES} bytes")
        self._key = key

    def upload_query(
        self, key: str, *, size: int, content_type: str, sha256: str | None, expires: int
    ) -> dict[str, str]:
        query = {"size": str(size), "contentType": content_type}
        if sha256 is not None:
            query["sha256"] = sha256
        query["expires"] = str(expires)
        query["signature"] = self._sign(
            "PUT", key, str(size), content_type, sha256 or "", str(expires)
        )
        return query

    def part_query(
        self,
        key: str,
        *,
        upload_id: str,
        part_number: int,
        size: int,
        sha256: str | None,
        expires: int,
    ) -> dict[str, str]:
        """A multipart upload's part: ``uploadId``, ``partNumber``, ``size``, ``sha256``
        (when the client gave the part's checksum), ``expires``."""
        query = {"uploadId": upload_id, "partNumber": str(part_number), "size": str(size)}
        if sha256 is not None:
            query["sha256"] = sha256
        query["expires"] = str(expires)
        # A part without a checksum signs what it signed before checksums existed, so
        # URLs handed out then stay valid.
        checksum = [sha256] if sha256 is not None else []
        query["signature"] = self._sign(
            "PART", key, upload_id, str(part_number), str(size), *checksum, str(expires)
        )
        return query

    def verify_part(self, key: str, query: Mapping[str, str], now: float) -> SignedPart:
        upload_id, number = query.get("uploadId", ""), query.get("partNumber", "")
        size, expires = query.get("size", ""), query.get("expires", "")
        sha256 = query.get("sha256")
        if not (_DIGITS.fullmatch(number) and _DIGITS.fullmatch(size)):
            raise ForbiddenError(FORBIDDEN_MESSAGE)
        checksum = [sha256] if sha256 is not None else []
        self._verify(query, now, "PART", key, upload_id, number, size, *checksum, expires)
        return SignedPart(upload_id, int(number), int(size), sha256)

    def download_query(self, key: str, *, filename: str, expires: int) -> dict[str, str]:
        signature = self._sign("GET", key, filename, str(expires))
        return {"filename": filename, "expires": str(expires), "signature": signature}

    def verify_upload(self, key: str, query: Mapping[str, str], now: float) -> SignedUpload:
        size, content_type = query.get("size", ""), query.get("contentType")
        sha256, expires = query.get("sha256", ""), query.get("expires", "")
        if content_type is None or not _DIGITS.fullmatch(size):
            raise ForbiddenError(FORBIDDEN_MESSAGE)
        # The raw strings are what was signed: "011" is not "11".
        self._verify(query, now, "PUT", key, size, content_type, sha256, expires)
        return SignedUpload(int(size), content_type, sha256 or None)

    def verify_download(self, key: str, query: Mapping[str, str], now: float) -> str:
        filename = query.get("filename")
        if filename is None:
            raise ForbiddenError(FORBIDDEN_MESSAGE)
        self._verify(query, now, "GET", key, filename, query.get("expires", ""))
        return filename

    def _verify(self, query: Mapping[str, str], now: float, *parts: str) -> None:
        expires = parts[-1]
        given = query.get("signature", "").encode("utf-8", "surrogatepass")
        expected = self._sign(*parts).encode("ascii")
        if not hmac.compare_digest(given, expected) or not _DIGITS.fullmatch(expires):
            raise ForbiddenError(FORBIDDEN_MESSAGE)
        if now > int(expires):
            raise ForbiddenError(FORBIDDEN_MESSAGE)

    def _sign(self, *parts: str) -> str:
        # A JSON array is unambiguous whatever characters the parts hold.
        payload = json.dumps([_SIGNATURE_VERSION, *parts], ensure_ascii=True)
        mac = hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()
        return mac.hex()
