"""What every file use case needs, passed in explicitly (built by FileService)."""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from domain.clock import Clock
from domain.errors import ConflictError
from domain.events import FileEventPublisher
from domain.files.checks import check_changeable
from domain.files.limits import FileLimits
from domain.files.repository import FileRepository
from domain.models import FileRecord, Principal
from domain.ports import Add, BlobStore
from domain.users import UserRepository

logger = logging.getLogger(__name__)

# Optimistic writes of one file's items (conditioned on its version) retry this often on a
# ConflictError before giving up with it, with a random pause before each retry
# (domain/retries.py). Only changes to that same file conflict: the user's usage is added to
# by the store, never rewritten.
SAVE_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class FileDeps:
    """The ports and limits every files use case takes, passed as one value so the use
    cases stay plain functions the composition root wires once."""

    files: FileRepository
    blobs: BlobStore
    users: UserRepository
    clock: Clock
    new_id: Callable[[], str]
    limits: FileLimits
    # Brings the search index in line with a file's metadata (domain/search/indexer.py);
    # called after each metadata write that changes what is searchable, before returning.
    search_index: Callable[[str], Awaitable[None]] | None = None
    # The same for a file just made READY, from the record just written: it has no index
    # yet, so one write indexes it (domain/search/bulk.py index_fresh) instead of ~ten.
    search_index_new: Callable[[FileRecord], Awaitable[None]] | None = None
    # Told about each committed write (domain/files/events.py); None: nobody listens.
    events: FileEventPublisher | None = None


async def changeable_file(deps: FileDeps, viewer: Principal, file_id: str) -> FileRecord:
    return check_changeable(viewer, await deps.files.get(file_id))


async def index_for_search(deps: FileDeps, file_id: str) -> None:
    if deps.search_index is not None:
        await deps.search_index(file_id)


async def index_new_for_search(deps: FileDeps, ready: FileRecord) -> None:
    if deps.search_index_new is not None:
        await deps.search_index_new(ready)
    else:
        await index_for_search(deps, ready.id)


def gave_up() -> ConflictError:
    return ConflictError("The file is being changed by other requests; try again")


async def discard_blob(blobs: BlobStore, key: str) -> None:
    """Best effort: the metadata write already decided the outcome, so a failure here
    leaves only unreachable bytes for the sweeper (and the bucket's lifecycle rules)."""
    try:
        await blobs.delete(key)
    except Exception:
        logger.warning("files: could not delete blob %s; left for the sweeper", key, exc_info=True)


async def count_usage(deps: FileDeps, change: Add) -> None:
    """Apply a usage change that follows a committed file change, as a write of its own.

    Counters never join the file's transaction: on DynamoDB every transaction naming the
    user's one usage item would be cancelled (TransactionConflict) while another is in
    flight, so a user's parallel uploads would fail; lone ADDs to an item the store applies
    one after another. The order makes every crash window err on the safe side: bytes are
    counted before the file exists and uncounted only after it is gone, so an interrupted
    request can leave usage too high (`demobackend recount-usage` corrects it), never too
    low. Failing here must not fail a request whose change already committed."""
    try:
        await deps.files.write([change])
    except Exception:
        logger.warning(
            "files: usage of %s not updated after a committed change; "
            "`demobackend recount-usage` corrects it",
            change.key.pk,
            exc_info=True,
        )
