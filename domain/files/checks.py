"""The access and version checks every file use case shares: a missing file and an
unreadable one are refused alike, so a caller cannot tell them apart."""

from domain.access import may_change_file, may_read_file
from domain.errors import ConflictError, ForbiddenError, NotFoundError
from domain.models import FileRecord, Principal

# One message for missing and unreadable alike: a caller must not tell them apart.
NOT_FOUND_MESSAGE = "File not found"


def check_readable(viewer: Principal, record: FileRecord | None) -> FileRecord:
    if record is None or not may_read_file(viewer, record):
        raise NotFoundError(NOT_FOUND_MESSAGE)
    return record


def check_changeable(viewer: Principal, record: FileRecord | None) -> FileRecord:
    record = check_readable(viewer, record)
    if not may_change_file(viewer, record):
        raise ForbiddenError("Only the file's owner or an admin may change it")
    return record


def check_expected_version(record: FileRecord, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != record.version:
        raise ConflictError(
            f"The file changed: expected version {expected_version}, "
            f"but it is at version {record.version}"
        )
