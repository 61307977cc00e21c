"""What is indexed of a file or a user: named text fields with weights, and a content hash.

The hash covers exactly the indexed text, so a query can tell a posting written for other
content (stale, or not yet replaced) from a current one. Who may read a file is not in the
hash but in the document's *scopes* (keys.py): the posting partitions its postings go to.
Sharing, unsharing and visibility changes change the scopes, so they do need index work
(the indexer moves the postings; quota changes still need none).
"""

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from domain.models import FileRecord, FileStatus, User, Visibility
from domain.search import keys
from domain.search.analyzer import REMEMBERED_TEXT_CHARS, REMEMBERED_TEXTS, terms

FILE = "F"
USER = "U"
KINDS = (FILE, USER)

# Name > tags > description > content type; username > display name.
FIELD_WEIGHTS: dict[str, dict[str, float]] = {
    FILE: {"name": 3.0, "tags": 2.0, "description": 1.0, "content_type": 0.5},
    USER: {"username": 3.0, "display_name": 2.0},
}

# BM25 length normalisation against fixed typical field lengths (in terms), not the index's
# averages: those would count files the viewer cannot read (bm25.py, README.md "Scoring").
TYPICAL_LENGTHS: dict[str, dict[str, float]] = {
    FILE: {"name": 3.0, "tags": 2.0, "description": 6.0, "content_type": 2.0},
    USER: {"username": 1.0, "display_name": 2.0},
}


@dataclass(frozen=True, slots=True)
class Document:
    """What the index holds of one searchable record: its kind, id, field texts and scopes."""

    kind: str
    id: str
    fields: dict[str, str]
    # Posting partitions (keys.py access scopes) holding a copy of each posting.
    scopes: tuple[str, ...] = (keys.UNSCOPED,)

    @property
    def content_hash(self) -> str:
        return content_hash(self.kind, self.fields)

    def field_terms(self) -> dict[str, Mapping[str, int]]:
        """Each field's terms and how often each occurs (read-only: counts of short texts
        are shared, remembered per text; a search counts ~80 field texts per query)."""
        return {name: term_counts(text) for name, text in self.fields.items()}


def term_counts(text: str) -> Mapping[str, int]:
    if len(text) <= REMEMBERED_TEXT_CHARS:
        return _remembered_counts(text)
    return Counter(terms(text))


@lru_cache(maxsize=REMEMBERED_TEXTS)
def _remembered_counts(text: str) -> Mapping[str, int]:
    return MappingProxyType(Counter(terms(text)))


def content_hash(kind: str, fields: dict[str, str]) -> str:
    raw = json.dumps([kind, sorted(fields.items())], ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def file_fields(record: FileRecord) -> dict[str, str]:
    return {
        "name": record.name,
        "tags": " ".join(record.tags),
        "description": record.description or "",
        "content_type": record.content_type,
    }


def user_fields(user: User) -> dict[str, str]:
    return {"username": user.username, "display_name": user.display_name or ""}


def file_document(record: FileRecord | None) -> Document | None:
    """Only READY files are searchable; a PENDING one has no document yet."""
    if record is None or record.status is not FileStatus.READY:
        return None
    return Document(FILE, record.id, file_fields(record), file_scopes(record))


def file_scopes(record: FileRecord) -> tuple[str, ...]:
    """ALL (admins) plus PUBLIC, or the owner's scope and one per user it is shared with:
    exactly the viewers domain.access.may_read_file lets read it (for the non-admins)."""
    return _scopes(record.visibility, record.owner_id, record.shared_with)


# A search builds the document of each of its ~20 candidates; most share an owner and
# sharing, and the scopes are a pure function of these three.
@lru_cache(maxsize=REMEMBERED_TEXTS)
def _scopes(visibility: Visibility, owner_id: str, shared_with: tuple[str, ...]) -> tuple[str, ...]:
    if visibility is Visibility.PUBLIC:
        return (keys.ALL, keys.PUBLIC)
    shared = sorted(set(shared_with) - {owner_id})
    return (keys.ALL, keys.owner_scope(owner_id), *map(keys.shared_scope, shared))


def user_document(user: User | None) -> Document | None:
    return None if user is None else Document(USER, user.id, user_fields(user))
