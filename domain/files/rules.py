"""Validation and normalisation of what clients say about a file. Every function returns
the cleaned value or raises InvalidInputError naming the field (GraphQL's argument name)."""

import re
import unicodedata
from collections.abc import Sequence

from domain.errors import InvalidInputError
from domain.files.models import FileFilter
from domain.models import FileStatus, Visibility

NAME_MAX_CHARS = 255
DESCRIPTION_MAX_CHARS = 2000
TAGS_MAX = 20
TAG_MAX_CHARS = 50
CONTENT_TYPE_PREFIX_MAX_CHARS = 255

# RFC 6838 §4.2 restricted-name: a type or subtype of at most 127 characters.
_RESTRICTED_NAME = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
_MEDIA_TYPE = re.compile(rf"{_RESTRICTED_NAME}/{_RESTRICTED_NAME}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# Categories that have no place in a name: controls, lone surrogates (no UTF-8 form),
# line and paragraph separators.
_FORBIDDEN_NAME_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
# Bidi embeddings, overrides and isolates let "invoice\u202efdp.exe" display as
# "invoiceexe.pdf"; refused so a name reads the way it is.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidInputError("name must be text")
    name = _nfc(name, "name")
    if not 1 <= len(name) <= NAME_MAX_CHARS:
        raise InvalidInputError(f"name must be 1 to {NAME_MAX_CHARS} characters")
    if "/" in name or "\\" in name:
        raise InvalidInputError("name must not contain '/' or '\\'")
    if any(_bad_name_char(char) for char in name):
        raise InvalidInputError("name must not contain control characters")
    if not name.strip() or name in (".", ".."):
        raise InvalidInputError("name must not be blank, '.' or '..'")
    return name


def clean_content_type(content_type: object) -> str:
    """``type/subtype`` (RFC 6838), lowercased. Parameters such as ``; charset=`` are
    refused: the blob stores compare the upload's Content-Type header with this exactly."""
    if not isinstance(content_type, str):
        raise InvalidInputError("contentType must be text")
    lowered = content_type.strip().lower()
    if not lowered.isascii() or not _MEDIA_TYPE.fullmatch(lowered):
        raise InvalidInputError(
            "contentType must be a media type such as text/plain (type/subtype, no parameters)"
        )
    return lowered


def check_size(size: object, max_upload_bytes: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int):
        raise InvalidInputError("size must be a whole number of bytes")
    if not 1 <= size <= max_upload_bytes:
        raise InvalidInputError(f"size must be between 1 and {max_upload_bytes} bytes")
    return size


def clean_sha256(sha256: object) -> str | None:
    if sha256 is None:
        return None
    lowered = sha256.lower() if isinstance(sha256, str) else None
    if lowered is None or not _SHA256_HEX.fullmatch(lowered):
        raise InvalidInputError("sha256 must be 64 hexadecimal characters")
    return lowered


def clean_description(description: object) -> str | None:
    """None or blank means no description; line breaks and tabs are kept."""
    if description is None:
        return None
    if not isinstance(description, str):
        raise InvalidInputError("description must be text")
    cleaned = _nfc(description.replace("\r\n", "\n"), "description").strip()
    if len(cleaned) > DESCRIPTION_MAX_CHARS:
        raise InvalidInputError(f"description must be at most {DESCRIPTION_MAX_CHARS} characters")
    # Bidi isolates are fine here: mixed-direction prose needs them; a name does not.
    if any(unicodedata.category(char) == "Cc" for char in cleaned if char not in "\n\t"):
        raise InvalidInputError("description must not contain control characters")
    return cleaned or None


def clean_tags(tags: Sequence[str] | None) -> tuple[str, ...]:
    """Each tag NFC, trimmed, inner whitespace collapsed and lowercased, so "Tax 2024" and
    " tax  2024" are one tag; duplicates dropped, first occurrence's order kept."""
    if tags is None:
        return ()
    # A string is a Sequence too; anything that is not a list would fail while iterating.
    if isinstance(tags, str) or not isinstance(tags, Sequence):
        raise InvalidInputError("tags must be a list of text")
    cleaned: dict[str, None] = {}
    for tag in tags:
        cleaned[clean_tag(tag)] = None
        if len(cleaned) > TAGS_MAX:
            raise InvalidInputError(f"tags must hold at most {TAGS_MAX} different tags")
    return tuple(cleaned)


def clean_tag(tag: object, field: str = "tags") -> str:
    if not isinstance(tag, str):
        raise InvalidInputError(f"{field} must be text")
    cleaned = " ".join(_nfc(tag, field).split()).lower()
    if not 1 <= len(cleaned) <= TAG_MAX_CHARS:
        raise InvalidInputError(f"each of {field} must be 1 to {TAG_MAX_CHARS} characters")
    if not cleaned.isprintable():
        raise InvalidInputError(f"{field} must not contain control characters")
    return cleaned


def check_visibility(visibility: object) -> Visibility:
    if not isinstance(visibility, Visibility):
        raise InvalidInputError("visibility must be PRIVATE or PUBLIC")
    return visibility


def check_expires_in(expires_in: object, maximum: int) -> int:
    if isinstance(expires_in, bool) or not isinstance(expires_in, int):
        raise InvalidInputError("expiresIn must be a whole number of seconds")
    if not 1 <= expires_in <= maximum:
        raise InvalidInputError(f"expiresIn must be between 1 and {maximum} seconds")
    return expires_in


def clean_filter(file_filter: FileFilter | None) -> FileFilter:
    if file_filter is None:
        return FileFilter()
    status = file_filter.status
    if status is not None and not isinstance(status, FileStatus):
        raise InvalidInputError("filter.status must be PENDING or READY")
    prefix = file_filter.content_type_prefix
    if prefix is not None:
        if not isinstance(prefix, str) or len(prefix) > CONTENT_TYPE_PREFIX_MAX_CHARS:
            raise InvalidInputError(
                f"filter.contentTypePrefix must be at most {CONTENT_TYPE_PREFIX_MAX_CHARS} chars"
            )
        # Stored types are lowercase, so "Image/" must find them too; "" filters nothing.
        prefix = prefix.strip().lower() or None
    tag = file_filter.tag
    if tag is not None:
        tag = clean_tag(tag, "filter.tag")
    return FileFilter(status=status, content_type_prefix=prefix, tag=tag)


def _nfc(text: str, field: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{field} must be valid Unicode text") from None
    return unicodedata.normalize("NFC", text)


def _bad_name_char(char: str) -> bool:
    return char in _BIDI_CONTROLS or unicodedata.category(char) in _FORBIDDEN_NAME_CATEGORIES
