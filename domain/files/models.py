"""What the file use cases take and return besides FileRecord: inputs, changes, filters,
pages. FileRecord, FileStatus and Visibility live in domain/models.py because the access
rules and search read them too."""

import enum
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, NamedTuple

from domain.models import FileRecord, FileStatus, Visibility


class Unset(enum.Enum):
    """ "Leave this field as it is" in an update — distinct from None, which clears a field
    that may be empty. The domain's own sentinel, so the domain never imports Strawberry."""

    UNSET = "UNSET"


UNSET: Final = Unset.UNSET


@dataclass(frozen=True, slots=True)
class NewFile:
    """What a client declares when it asks to upload; validated by rules.py."""

    name: str
    content_type: str
    size: int
    sha256: str | None = None
    description: str | None = None
    tags: Sequence[str] | None = None
    visibility: Visibility = Visibility.PRIVATE
    multipart: bool = False  # also chosen for sizes over FileLimits.multipart_threshold_bytes
    # Multipart only: every part's SHA-256 given to uploadParts and checked by the store.
    part_checksums: bool = False


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
    """Narrows a listing; every given criterion must hold. Normalise with
    rules.clean_filter before use so that equal filters compare (and fingerprint) equal."""

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
    # In the order read: listing order, or nearest first when paging backward.
    records: list[FileRecord]
    # The ItemStore cursor to continue after this page, in the direction it was read; None
    # when nothing is left. Not signed: the GraphQL layer wraps it with CursorSigner
    # before a client sees it.
    next_position: str | None
    # positions[i] names records[i]: it resumes right after it, or (read in the other
    # direction) right before it.
    positions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ShareLink:
    """A link anyone may follow to download one READY file. Only the SHA-256 of its token
    is kept: the token itself exists in createShareLink's answer alone."""

    id: str
    file_id: str
    token_sha256: str  # lowercase hex
    created_at: datetime
    expires_at: int  # epoch seconds (also the ItemStore TTL attribute)
    downloads: int
    max_downloads: int | None

    def works_at(self, now: datetime) -> bool:
        """Unexpired and not used up."""
        used_up = self.max_downloads is not None and self.downloads >= self.max_downloads
        return now.timestamp() < self.expires_at and not used_up
