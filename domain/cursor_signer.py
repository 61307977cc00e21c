"""Tamper-evident pagination cursors. The ItemStore's cursors are readable positions; a
client gets them signed (HMAC-SHA256) together with what the cursor was made for — the
query, the viewer and the filter — so it can neither forge a position nor replay a
cursor in another query, as another user or under another filter.

The position stays readable (base64url JSON, as the store made it): signing makes it
tamper-proof, not secret.
"""

import base64
import binascii
import hashlib
import hmac
import json

from domain.errors import InvalidInputError

MIN_KEY_BYTES = 32
_VERSION = "c1"
_MAX_CURSOR_CHARS = 4096
_INVALID = "Invalid cursor"


class CursorSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"cursor signing key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key

    def sign(self, position: str, *, query: str, viewer_id: str, filter_hash: str = "") -> str:
        payload = _b64(position.encode("utf-8"))
        return f"{_VERSION}.{payload}.{self._mac(payload, query, viewer_id, filter_hash)}"

    def verify(self, cursor: str, *, query: str, viewer_id: str, filter_hash: str = "") -> str:
        """The position inside ``cursor``; InvalidInputError if it was altered or made for
        another query, viewer or filter (one message for all: probing learns nothing)."""
        if not isinstance(cursor, str) or len(cursor) > _MAX_CURSOR_CHARS:
            raise InvalidInputError(_INVALID)
        version, _, rest = cursor.partition(".")
        payload, _, mac = rest.partition(".")
        expected = self._mac(payload, query, viewer_id, filter_hash)
        if version != _VERSION or not hmac.compare_digest(
            mac.encode("utf-8", "surrogatepass"), expected.encode("ascii")
        ):
            raise InvalidInputError(_INVALID)
        try:
            return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8")
        except (binascii.Error, ValueError) as exc:  # pragma: no cover - the MAC vouched for it
            raise InvalidInputError(_INVALID) from exc

    def _mac(self, payload: str, query: str, viewer_id: str, filter_hash: str) -> str:
        # A JSON array cannot be confused across fields, whatever characters they hold.
        message = json.dumps([_VERSION, query, viewer_id, filter_hash, payload])
        return _b64(hmac.new(self._key, message.encode("ascii"), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
