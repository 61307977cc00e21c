"""Opaque global ids: every id a client sees names its type, so `node(id:)` can resolve it."""

import base64
import binascii

from domain.errors import InvalidInputError

_MAX_GLOBAL_ID_CHARS = 200


def to_global_id(type_name: str, local_id: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{local_id}".encode()).decode().rstrip("=")


def from_global_id(global_id: str) -> tuple[str, str]:
    """(type name, local id) of a global id; InvalidInputError for anything malformed."""
    if not global_id or len(global_id) > _MAX_GLOBAL_ID_CHARS:
        raise InvalidInputError("Invalid id")
    try:
        decoded = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInputError("Invalid id") from exc
    type_name, sep, local_id = decoded.partition(":")
    if not sep or not type_name or not local_id or not local_id.isprintable():
        raise InvalidInputError("Invalid id")
    return type_name, local_id
