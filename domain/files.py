"""The file domain's public face: what resolvers, REST and the Lambda handler import.

Modules behind it: file_models (records and inputs), file_rules (validation), quota (usage
arithmetic), file_items (key layout), file_repository (reads), paging (filtered paging),
file_uploads / file_reads / file_changes / file_sharing (use cases), file_service (the
FileService facade), cursor_signer (signed client cursors).
"""

from domain.cursor_signer import CursorSigner
from domain.file_deps import FileLimits
from domain.file_items import blob_key_for, file_id_from_blob_key, new_file_id
from domain.file_models import (
    UNSET,
    FileChanges,
    FileFilter,
    FilePage,
    FileRecord,
    FileStatus,
    NewFile,
    Unset,
    Visibility,
)
from domain.file_repository import FileRepository
from domain.file_service import FileService

__all__ = [
    "UNSET",
    "CursorSigner",
    "FileChanges",
    "FileFilter",
    "FileLimits",
    "FilePage",
    "FileRecord",
    "FileRepository",
    "FileService",
    "FileStatus",
    "NewFile",
    "Unset",
    "Visibility",
    "blob_key_for",
    "file_id_from_blob_key",
    "new_file_id",
]
