"""File models: plain frozen dataclasses the use cases take and return (DESIGN.md §3 File)."""

import enum
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, NamedTuple


class FileStatus(enum.Enum):
    PENDING = "PENDING"
    READY = "READY"


class Visibility(enum.Enum):
    PRIVATE = "PRIVATE"
    PUBLIC = "PUBLIC"


class Unset(enum.Enum):
    """ "Leave this field as it is" in an update — distinct from None, which clears a field
    that may be empty. The domain's own sentinel, so the domain never imports Strawberry."""

    UNSET = "UNSET"


UNSET: Final = Unset.UNSET


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: str
    owner_id: str
    name: str
    content_type: str
    size: int
    sha256: str | None  # lowercase hex, when declared or learnt from the store
    status: FileStatus
    visibility: Visibility
    description: str | None
    tags: tuple[str, ...]
    shared_with: tuple[str, ...]  # user ids, in the order they were shared with
    version: int
    created_at: datetime
    updated_at: datetime
    blob_key: str
    # Epoch seconds after which a PENDING file is gone (also the ItemStore TTL attribute);
    # None once READY.
    expires_at: int | None = None

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now.timestamp() >= self.expires_at


@dataclass(frozen=True, slots=True)
class NewFile:
    """What a client declares when it asks to upload; validated by file_rules."""

    name: str
    content_type: str
    size: int
    sha256: str | None = None
    description: str | None = None
    tags: Sequence[str] | None = None
    visibility: Visibility = Visibility.PRIVATE


@dataclass(frozen=True, slots=True)
class FileChanges:
    """An update. UNSET leaves a field alone. None also leaves ``name`` and ``visibility``
    alone (they cannot be empty) but clears ``description`` and ``tags``."""

    name: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    tags: Sequence[str] | Unset | None = UNSET
    visibility: Visibility | Unset | None = UNSET


@dataclass(frozen=True, slots=True)
class FileFilter:
    """Narrows a listing; every given criterion must hold. Normalise with file_rules.
    clean_filter before use so that equal filters compare (and fingerprint) equal."""

    status: FileStatus | None = None
    content_type_prefix: str | None = None
    tag: str | None = None

    def matches(self, record: FileRecord) -> bool:
        return (
            (self.status is None or record.status is self.status)
            and (
                self.content_type_prefix is None
                or record.content_type.startswith(self.content_type_prefix)
            )
            and (self.tag is None or self.tag in record.tags)
        )

    def fingerprint(self) -> str:
        """A stable digest to bind a cursor to the filter it was made under."""
        fields = [
            self.status.value if self.status else None,
            self.content_type_prefix,
            self.tag,
        ]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:32]


class FilePage(NamedTuple):
    records: list[FileRecord]
    # The ItemStore cursor to continue after this page; None when nothing is left. Not
    # signed: the GraphQL layer wraps it with CursorSigner before a client sees it.
    next_position: str | None
