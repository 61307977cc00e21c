"""Domain models shared by every layer; plain dataclasses, no framework types."""

import enum
from dataclasses import dataclass, field
from datetime import datetime

ADMIN_GROUP = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as proven by a verified token."""

    user_id: str  # the token's `sub`
    username: str
    email: str | None = None
    groups: tuple[str, ...] = ()
    token_use: str = "id"  # noqa: S105 - a claim name, not a secret
    # The token's `exp` (epoch seconds): a WebSocket authenticated by it closes then.
    # Not part of who the caller is, so equal principals stay equal across tokens.
    expires_at: float | None = field(default=None, compare=False)
    # Epoch seconds the session behind the token began: Cognito's ``auth_time`` (kept
    # across refreshes), else ``iat``. Sign-out-everywhere voids sessions begun before it.
    auth_time: int | None = field(default=None, compare=False)

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups

    @property
    def from_id_token(self) -> bool:
        """ID tokens carry profile claims (email); access tokens do not."""
        return self.token_use == "id"  # noqa: S105 - a claim value, not a secret


@dataclass(frozen=True, slots=True)
class User:
    """A user's profile as the store keeps it; ``version`` guards concurrent updates."""

    id: str
    username: str
    display_name: str | None
    email: str | None
    groups: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    version: int = 1
    extra: dict[str, str] = field(default_factory=dict)
    # Epoch seconds of the last sign-out-everywhere: sessions begun then or before are void.
    signed_out_at: int | None = None


class FileStatus(enum.Enum):
    PENDING = "PENDING"
    READY = "READY"


class Visibility(enum.Enum):
    PRIVATE = "PRIVATE"
    PUBLIC = "PUBLIC"


@dataclass(frozen=True, slots=True)
class MultipartUpload:
    """A PENDING file's bytes arriving in parts: the store's upload at ``key`` (where the
    READY bytes will be) and the part plan the server chose."""

    upload_id: str
    key: str
    part_size: int
    part_count: int
    # Every part is sent with its SHA-256, which the store checks and records: the
    # store's upload was opened so (S3 fixes this for an upload: all parts or none).
    part_checksums: bool = False

    def part_length(self, part_number: int, size: int) -> int:
        """Bytes in ``part_number`` of a ``size``-byte file: every part is ``part_size``
        but the last, which holds the rest."""
        if part_number < self.part_count:
            return self.part_size
        return size - self.part_size * (self.part_count - 1)


@dataclass(frozen=True, slots=True)
class FileRecord:
    """A file's metadata (never its bytes, which sit in the blob store), as every use case
    and the store's items see it."""

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
    # Set while a PENDING file's bytes arrive in parts; None for single uploads and READY.
    multipart: MultipartUpload | None = None

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now.timestamp() >= self.expires_at
