"""Which items a backup holds, and how they relate to blobs.

- Search index items (``SRCH#…``) are not backed up: restore rebuilds the index from the
  metadata (domain/search/reindex.py), so an index is never restored out of step with it.
- Items past their ``expires_at`` (PENDING uploads that were never completed, and their
  share items; expired share links) are already gone to every reader; the TTL deletes
  them lazily, so they are skipped. Unexpired PENDING files are kept as metadata without
  bytes: they restore as uploads in progress and expire on time (their upload URLs named
  the old store).
- A PENDING file being uploaded in parts is kept without its store upload: the backup
  drops the upload id (``without_upload_handle``), so no restore reopens a half-finished
  multipart upload; the restored file says its parts are gone (abort it and start again)
  and expires on time. Parts themselves are never read.
- Share links travel with their file: the link item and its token item (which holds only
  the token's SHA-256, so a backup holds no working link) are restored only with the file.
- Listing items (``LIST#…``) are derived from the metas and shares, like the search index:
  restore writes them again with each part it restores (domain/files/listings.py).
- Restore journals (``RESTORE#…``) belong to a restore in progress, not to the data.
"""

from typing import Any

from domain.files import LISTING_PREFIX
from domain.ports import Item

SEARCH_PREFIX = "SRCH#"
JOURNAL_PREFIX = "RESTORE#"
FILE_PREFIX = "FILE#"
USER_PREFIX = "USER#"
# A share link's token item (domain/files/items.py): keyed by the token's hash, it names
# its file in an attribute. The link item itself lives in the file's partition.
SHARE_TOKEN_PREFIX = "SHARETOKEN#"  # noqa: S105 (a key prefix; the token is hashed)


def skip_reason(item: Item, now_epoch: int) -> str | None:
    pk = str(item.get("pk", ""))
    if pk.startswith(SEARCH_PREFIX):
        return "search_index"
    if pk.startswith(LISTING_PREFIX):
        return "listing"
    if pk.startswith(JOURNAL_PREFIX):
        return "restore_journal"
    expires_at = item.get("expires_at")
    if isinstance(expires_at, int) and not isinstance(expires_at, bool) and expires_at <= now_epoch:
        return "expired"
    return None


def without_upload_handle(item: Item) -> Item:
    """``item`` as a backup holds it: a file meta's multipart upload id blanked."""
    multipart = item.get("multipart")
    if not is_file_meta(item) or not isinstance(multipart, dict) or not multipart.get("upload_id"):
        return item
    return {**item, "multipart": {**multipart, "upload_id": ""}}


def is_ready_file(item: Item) -> bool:
    return item.get("type") == "File" and item.get("sk") == "META" and item.get("status") == "READY"


def file_id_of(item: Item) -> str | None:
    """The file an item belongs to: its meta, shares and share links by their partition;
    a share link's token item by the file it names."""
    pk = item.get("pk")
    if isinstance(pk, str) and pk.startswith(FILE_PREFIX):
        return pk[len(FILE_PREFIX) :]
    if isinstance(pk, str) and pk.startswith(SHARE_TOKEN_PREFIX):
        file_id = item.get("file_id")
        return file_id if isinstance(file_id, str) else None
    return None


def usage_owner(key: tuple[str, str]) -> str | None:
    """The user whose usage item has this key; None for any other item."""
    pk, sk = key
    return pk[len(USER_PREFIX) :] if pk.startswith(USER_PREFIX) and sk == "USAGE" else None


def is_file_meta(item: Item) -> bool:
    return item.get("type") == "File" and item.get("sk") == "META"


def data_item(item: Any) -> bool:
    """An item of the data proper: what a restore writes and a drill compares."""
    return isinstance(item, dict) and skip_reason(item, 0) not in (
        "search_index",
        "listing",
        "restore_journal",
    )
