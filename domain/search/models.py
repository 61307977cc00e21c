"""What a search takes and returns, in the domain's terms."""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from domain.models import FileRecord, User


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """Every given criterion must hold. contentTypePrefix, tags (all of them) and ownerId
    describe files, so a filter with any of them leaves no users; the time bounds apply to
    files and users (createdAt) alike, after inclusive, before exclusive."""

    content_type_prefix: str | None = None
    tags: tuple[str, ...] = ()
    owner_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None

    @property
    def files_only(self) -> bool:
        return bool(self.content_type_prefix or self.tags or self.owner_id)

    def fingerprint(self) -> str:
        fields = [
            self.content_type_prefix,
            list(self.tags),
            self.owner_id,
            self.created_after.isoformat() if self.created_after else None,
            self.created_before.isoformat() if self.created_before else None,
        ]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:32]

    def matches_time(self, created_at: datetime) -> bool:
        return (self.created_after is None or created_at >= self.created_after) and (
            self.created_before is None or created_at < self.created_before
        )

    def matches_file(self, record: FileRecord) -> bool:
        return (
            self.matches_time(record.created_at)
            and (
                self.content_type_prefix is None
                or record.content_type.startswith(self.content_type_prefix)
            )
            and all(tag in record.tags for tag in self.tags)
            and (self.owner_id is None or record.owner_id == self.owner_id)
        )


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One matching record with its score, its highlights and cursor worked out on demand."""

    kind: str  # documents.FILE or documents.USER
    id: str
    score: float
    record: FileRecord | User
    # Worked out when read, at most once: most queries select neither, and marking every
    # field's text and signing a cursor was ~9% of a search request.
    mark: Callable[[], tuple[str, ...]] = field(compare=False, repr=False)
    sign: Callable[[], str] = field(compare=False, repr=False)

    @property
    def highlights(self) -> tuple[str, ...]:
        return self.mark()

    @property
    def cursor(self) -> str:
        return self.sign()


@dataclass(frozen=True, slots=True)
class SearchPage:
    """A page of hits, best first, and whether more follow."""

    hits: list[SearchHit]
    has_next_page: bool
