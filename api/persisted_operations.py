"""Persisted operations: an optional allow-list of GraphQL documents (SECURITY.md).

With ``DEMOBACKEND_PERSISTED_OPERATIONS_FILE`` set, /graphql runs only documents listed in
that file, named by the SHA-256 of their exact text. A first-party app ships the hashes
(scripts/persist_operations.py builds the file from its .graphql documents), so nobody
else can make the server parse, validate or resolve a document of their own choosing.

A request names its document in either of two shapes:
- Apollo's Automatic Persisted Queries: ``extensions.persistedQuery = {"version": 1,
  "sha256Hash": "<hex>"}``, with or without ``query``;
- GraphQL-over-HTTP persisted documents: ``documentId = "sha256:<hex>"`` (or bare hex).
GET carries the same fields as query parameters (``extensions`` JSON-encoded).

Refusals (JSON ``errors[0].extensions.code``, before any resolver runs):
- unknown hash -> 400 ``PERSISTED_QUERY_NOT_FOUND``;
- a ``query`` whose text is not registered -> 403 ``OPERATION_NOT_ALLOWED``;
- a ``query`` sent with a hash it does not match, two different hashes, a malformed hash
  or an unknown ``persistedQuery.version`` -> 400 ``BAD_REQUEST``.
Without the file the list is off and requests run as before; a hash with no ``query`` then
gets 400 ``PERSISTED_QUERY_NOT_SUPPORTED``, which Apollo clients take as "send the text".
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.setting_errors import SettingsError

SETTING = "DEMOBACKEND_PERSISTED_OPERATIONS_FILE"
NOT_FOUND_CODE = "PERSISTED_QUERY_NOT_FOUND"
NOT_ALLOWED_CODE = "OPERATION_NOT_ALLOWED"
NOT_SUPPORTED_CODE = "PERSISTED_QUERY_NOT_SUPPORTED"
BAD_REQUEST_CODE = "BAD_REQUEST"
# Apollo's manifest (generate-persisted-query-manifest) is accepted as well as our own map.
APOLLO_MANIFEST_FORMAT = "apollo-persisted-query-manifest"
MAX_FILE_BYTES = 10 * 1024 * 1024
_HASH = re.compile(r"(?:sha256:)?([0-9a-fA-F]{64})")


class PersistedOperationRefusal(Exception):
    """The request may not run; ``status``/``code``/``message`` form the JSON answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def document_hash(document: str) -> str:
    """Lowercase hex SHA-256 of the document's exact UTF-8 text (no normalisation, as
    Apollo clients compute it): a changed space is a different, unregistered document."""
    return hashlib.sha256(document.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PersistedOperations:
    """The registered documents, by their hash: with the list on, only these run, asked
    for by hash or by their exact text."""

    documents: Mapping[str, str]  # hex hash -> document

    def __len__(self) -> int:
        return len(self.documents)

    def resolve(self, query: str | None, requested: str | None) -> str:
        """The document to run for a request carrying ``query`` and/or a hash."""
        if requested is not None:
            document = self.documents.get(requested)
            if query is not None and document_hash(query) != requested:
                raise PersistedOperationRefusal(
                    400, BAD_REQUEST_CODE, "The query does not match its SHA-256 hash"
                )
            if document is None:
                raise PersistedOperationRefusal(400, NOT_FOUND_CODE, "PersistedQueryNotFound")
            return document
        if query is None:
            raise PersistedOperationRefusal(
                400, BAD_REQUEST_CODE, "No GraphQL query or persisted document id in the request"
            )
        # The text of a registered document is as good as its hash: same bytes, same hash.
        if document_hash(query) not in self.documents:
            raise PersistedOperationRefusal(
                403, NOT_ALLOWED_CODE, "Only registered (persisted) operations may run here"
            )
        return query


def resolve_without_list(query: str | None, requested: str | None) -> str | None:
    """The list is off: the text runs as before; a bare hash cannot be looked up."""
    if query is None and requested is not None:
        raise PersistedOperationRefusal(400, NOT_SUPPORTED_CODE, "PersistedQueryNotSupported")
    return query


def requested_hash(extensions: Mapping[str, Any] | None, document_id: object) -> str | None:
    """The hash a request names (lowercase hex), from APQ's extension or ``documentId``."""
    hashes: set[str] = set()
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is not None:
        if not isinstance(persisted, Mapping) or persisted.get("version") != 1:
            raise PersistedOperationRefusal(
                400, BAD_REQUEST_CODE, "extensions.persistedQuery must be version 1"
            )
        hashes.add(_parse_hash(persisted.get("sha256Hash"), "persistedQuery.sha256Hash"))
    if document_id is not None:
        hashes.add(_parse_hash(document_id, "documentId"))
    if len(hashes) > 1:
        raise PersistedOperationRefusal(
            400, BAD_REQUEST_CODE, "documentId and persistedQuery name different documents"
        )
    return next(iter(hashes), None)


def _parse_hash(value: object, name: str) -> str:
    match = _HASH.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise PersistedOperationRefusal(
            400, BAD_REQUEST_CODE, f"{name} must be a SHA-256 hash: sha256:<64 hex digits>"
        )
    return match.group(1).lower()


def load_persisted_operations(path: Path | None) -> PersistedOperations | None:
    """Read and check the allow-list once at start-up; any problem is one SettingsError
    line naming the variable, never a traceback or a half-loaded list."""
    if path is None:
        return None
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise _bad(f"{path} is larger than {MAX_FILE_BYTES} bytes")
        raw = json.loads(path.read_bytes())
    except OSError as exc:
        raise _bad(f"cannot read {path} ({exc.strerror or type(exc).__name__})") from None
    except (ValueError, RecursionError):
        raise _bad(f"{path} is not valid JSON") from None
    documents = _documents(raw)
    if not documents:
        raise _bad(f"{path} lists no operations")
    return PersistedOperations(documents)


def _documents(raw: object) -> dict[str, str]:
    if isinstance(raw, dict) and raw.get("format") == APOLLO_MANIFEST_FORMAT:
        operations = raw.get("operations")
        if not isinstance(operations, list):
            raise _bad("an Apollo manifest needs an 'operations' list")
        pairs = [_manifest_entry(entry) for entry in operations]
    elif isinstance(raw, dict):
        pairs = list(raw.items())
    else:
        raise _bad('expected a JSON object {"sha256:<hex>": "<document>", ...}')
    documents: dict[str, str] = {}
    for key, document in pairs:
        match = _HASH.fullmatch(key) if isinstance(key, str) else None
        if match is None:
            raise _bad(f"{str(key)[:80]!r} is not a SHA-256 hash")
        digest = match.group(1).lower()
        if not isinstance(document, str) or document_hash(document) != digest:
            raise _bad(f"the document listed as {digest[:12]}... does not hash to its key")
        # Not parsed here: parsing costs ~1 ms a document on every cold start, and
        # scripts/persist_operations.py has validated each one against the schema.
        documents[digest] = document
    return documents


def _manifest_entry(entry: object) -> tuple[object, object]:
    if not isinstance(entry, dict):
        raise _bad("each manifest operation must be an object with 'id' and 'body'")
    return entry.get("id"), entry.get("body")


def _bad(reason: str) -> SettingsError:
    return SettingsError(f"invalid setting {SETTING}: {reason}")


__all__ = [
    "NOT_ALLOWED_CODE",
    "NOT_FOUND_CODE",
    "NOT_SUPPORTED_CODE",
    "PersistedOperationRefusal",
    "PersistedOperations",
    "document_hash",
    "load_persisted_operations",
    "requested_hash",
    "resolve_without_list",
]
