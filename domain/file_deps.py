"""What every file use case needs, passed in explicitly, and the access checks they share."""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import datetime

from domain.access import may_change_file, may_read_file
from domain.clock import Clock
from domain.errors import ConflictError, ForbiddenError, NotFoundError
from domain.file_models import FileRecord
from domain.file_repository import FileRepository
from domain.models import Principal
from domain.ports import MAX_WRITE_ITEMS, BlobStore
from domain.users import UserRepository

logger = logging.getLogger(__name__)

# One message for missing and unreadable alike: a caller must not tell them apart.
NOT_FOUND_MESSAGE = "File not found"
# Optimistic writes retry this often on a ConflictError before giving up with it, with a
# random pause before each retry (domain/retries.py).
SAVE_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class FileLimits:
    max_upload_bytes: int
    quota_bytes: int  # per user, over PENDING and READY files
    pending_ttl_seconds: int  # how long an upload may stay unfinished
    upload_expiry_seconds: int  # how long an upload URL works
    download_expiry_default: int = 300
    download_expiry_max: int = 3600
    max_pending_uploads: int = 50  # per user; also bounds the size of the usage item
    max_shares_per_file: int = 50

    def __post_init__(self) -> None:
        # Misconfiguration, not user input: fail at start-up, loudly.
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field.name} must be a positive whole number")
        if self.upload_expiry_seconds > self.pending_ttl_seconds:
            raise ValueError("upload_expiry_seconds must not exceed pending_ttl_seconds")
        if self.download_expiry_default > self.download_expiry_max:
            raise ValueError("download_expiry_default must not exceed download_expiry_max")
        # Deleting (or completing) a file writes its meta, its usage and every share item
        # in one atomic write.
        if self.max_shares_per_file > MAX_WRITE_ITEMS - 2:
            raise ValueError(f"max_shares_per_file must be at most {MAX_WRITE_ITEMS - 2}")


@dataclass(frozen=True, slots=True)
class FileDeps:
    files: FileRepository
    blobs: BlobStore
    users: UserRepository
    clock: Clock
    new_id: Callable[[], str]
    limits: FileLimits
    # Brings the search index in line with a file's metadata (domain/search/indexer.py);
    # called after each metadata write that changes what is searchable, before returning.
    search_index: Callable[[str], Awaitable[None]] | None = None


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def check_readable(viewer: Principal, record: FileRecord | None) -> FileRecord:
    if record is None or not may_read_file(viewer, record):
        raise NotFoundError(NOT_FOUND_MESSAGE)
    return record


def check_changeable(viewer: Principal, record: FileRecord | None) -> FileRecord:
    record = check_readable(viewer, record)
    if not may_change_file(viewer, record):
        raise ForbiddenError("Only the file's owner or an admin may change it")
    return record


async def changeable_file(deps: FileDeps, viewer: Principal, file_id: str) -> FileRecord:
    return check_changeable(viewer, await deps.files.get(file_id))


def check_expected_version(record: FileRecord, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != record.version:
        raise ConflictError(
            f"The file changed: expected version {expected_version}, "
            f"but it is at version {record.version}"
        )


async def index_for_search(deps: FileDeps, file_id: str) -> None:
    if deps.search_index is not None:
        await deps.search_index(file_id)


def gave_up() -> ConflictError:
    return ConflictError("The file is being changed by other requests; try again")


async def discard_blob(blobs: BlobStore, key: str) -> None:
    """Best effort: the metadata write already decided the outcome, so a failure here
    leaves only unreachable bytes for the sweeper (and the bucket's lifecycle rules)."""
    try:
        await blobs.delete(key)
    except Exception:
        logger.warning("files: could not delete blob %s; left for the sweeper", key, exc_info=True)
