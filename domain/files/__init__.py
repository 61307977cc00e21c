"""The files feature: uploads, reads, changes and sharing of files, behind FileService.

This module is the only import path into the package from outside it (resolvers, REST, the
Lambda handler, ops, search, tests): see README.md here for what each module holds.
FileRecord, FileStatus and Visibility are defined in domain/models.py because the access
rules and search read them too; they are re-exported here for the feature's callers.
"""

from domain.files.checks import NOT_FOUND_MESSAGE
from domain.files.deps import SAVE_ATTEMPTS
from domain.files.items import (
    LISTING_PREFIX,
    blob_key_for,
    file_from_item,
    file_id_from_blob_key,
    file_key,
    file_to_item,
    is_file_id,
    listing_items_of,
    new_file_id,
    put_share,
    ready_key_for,
    usage_key,
)
from domain.files.limits import FileLimits
from domain.files.links import (
    LINK_EXPIRY_DEFAULT_SECONDS,
    LINK_NOT_FOUND_MESSAGE,
)
from domain.files.listings import rebuild_listings
from domain.files.models import (
    UNSET,
    FileChanges,
    FileFilter,
    FilePage,
    NewFile,
    ShareLink,
    Unset,
)
from domain.files.multipart import CompletedPart
from domain.files.recount import (
    RecountSummary,
    counted_usage,
    recount_all_usage,
    recount_usage,
)
from domain.files.repository import FileRepository
from domain.files.rules import (
    DESCRIPTION_MAX_CHARS,
    NAME_MAX_CHARS,
    TAG_MAX_CHARS,
    TAGS_MAX,
    clean_description,
    clean_filter,
    clean_name,
    clean_tag,
    clean_tags,
)
from domain.files.service import FileService
from domain.models import FileRecord, FileStatus, Visibility

__all__ = [
    "DESCRIPTION_MAX_CHARS",
    "LINK_EXPIRY_DEFAULT_SECONDS",
    "LINK_NOT_FOUND_MESSAGE",
    "LISTING_PREFIX",
    "NAME_MAX_CHARS",
    "NOT_FOUND_MESSAGE",
    "SAVE_ATTEMPTS",
    "TAGS_MAX",
    "TAG_MAX_CHARS",
    "UNSET",
    "CompletedPart",
    "FileChanges",
    "FileFilter",
    "FileLimits",
    "FilePage",
    "FileRecord",
    "FileRepository",
    "FileService",
    "FileStatus",
    "NewFile",
    "RecountSummary",
    "ShareLink",
    "Unset",
    "Visibility",
    "blob_key_for",
    "clean_description",
    "clean_filter",
    "clean_name",
    "clean_tag",
    "clean_tags",
    "counted_usage",
    "file_from_item",
    "file_id_from_blob_key",
    "file_key",
    "file_to_item",
    "is_file_id",
    "listing_items_of",
    "new_file_id",
    "put_share",
    "ready_key_for",
    "rebuild_listings",
    "recount_all_usage",
    "recount_usage",
    "usage_key",
]
