"""Opaque query cursors shared by the ItemStore adapters that order items themselves.

A cursor names the last item of a page by its position in the query's order, so the next
page starts strictly after it even if that item was deleted in between.
"""

import base64
import binascii
import json

import orjson

from adapters.items.conditions import is_storable_text
from domain.errors import InvalidInputError

_MAX_CURSOR_CHARS = 2048


def encode_cursor(position: list[str]) -> str:
    # A query page makes one per item (a search ~25): orjson takes ~0.5 µs, json ~2.4. Its
    # bytes are json's for ASCII but DEL; otherwise json, whose \u escapes keep cursors as
    # they were.
    raw = orjson.dumps(position)
    if not raw.isascii() or b"\x7f" in raw:
        raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, parts: int) -> list[str]:
    """Return the position a cursor names, or raise InvalidInputError for anything else."""
    if len(cursor) > _MAX_CURSOR_CHARS:
        raise InvalidInputError("Invalid cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    # RecursionError: a forged cursor of nested brackets exhausts the JSON decoder's stack.
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInputError("Invalid cursor") from exc
    if (
        not isinstance(position, list)
        or len(position) != parts
        # No stored key is empty, and DynamoDB cannot start a page at an empty key.
        or not all(isinstance(part, str) and part and is_storable_text(part) for part in position)
    ):
        raise InvalidInputError("Invalid cursor")
    return position
