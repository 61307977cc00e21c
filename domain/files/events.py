"""Publishing file events from the use cases: one call after each committed write."""

import logging

from domain.events import FileEventKind, file_event
from domain.files.deps import FileDeps
from domain.models import FileRecord

logger = logging.getLogger(__name__)

__all__ = ["FileEventKind", "publish"]


async def publish(
    deps: FileDeps, kind: FileEventKind, record: FileRecord, subject_id: str | None = None
) -> None:
    """After a commit only. Best effort: the write has decided the outcome, so a failing
    bus must not turn a committed change into an error for its caller."""
    if deps.events is None:
        return
    at = deps.clock() if kind is FileEventKind.DELETED else record.updated_at
    try:
        await deps.events.publish(file_event(kind, record, at, subject_id))
    except Exception:
        logger.warning("files: could not publish %s of %s", kind.value, record.id, exc_info=True)
