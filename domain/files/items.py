"""How files are laid out in the ItemStore: the only code that knows their key formats.

    item        pk               sk               gsi1pk                 gsi1sk
    file meta   FILE#<file id>   META             OWNER#<owner id>       <created at>#<file id>
    share       FILE#<file id>   SHARE#<user id>  SHAREDWITH#<user id>   <shared at>#<file id>
    usage       USER#<owner id>  USAGE            -                      -
    reservation USER#<owner id>  RESERVATION#<file id>  -                -
    share link  FILE#<file id>   LINK#<link id>   -                      -
    link token  SHARETOKEN#<sha256 of token>  TOKEN  -                   -
    owned       LIST#O#<owner>   <created at>#<file id>                  -
    shared      LIST#S#<user>    <shared at>#<file id>                   -

The listings (myFiles, User.files, sharedWithMe) read the two ``LIST#`` partitions of the
*table*, consistently, then the metas they name: DynamoDB cannot read a global index
consistently, so the gsi1 copies of those orders (still written) could miss a file just
created or shared. Data written before listing items existed is listed once
``demobackend reindex`` has written its listing items. A listing item names a file and
nothing else, so it can never show stale content; it is written in the same atomic write
as what it lists. It may outlive what it names (an abandoned upload's share, a crash
between the two writes of a deletion): readers drop an item whose meta is gone or no
longer lists the user.

Times in sort keys are ISO-8601 UTC with microseconds, so they sort as text. A PENDING
file's meta (and its share items) carry ``expires_at`` in epoch seconds: the DynamoDB TTL
attribute, removed when the file becomes READY.

Blob keys: a PENDING file's bytes arrive at its upload key ``files/<id>/blob`` (derived
from the id alone; upload URLs name it); completing copies them to a fresh ready key
``files/<id>/ready-<random>`` that no URL can write, and the file's ``blob_key`` moves
there. Files made READY before ready keys existed keep ``files/<id>/blob``.
"""

import re
import secrets
import uuid
from collections.abc import Iterable
from typing import Any

from domain.clock import from_iso, to_iso
from domain.files.models import ShareLink
from domain.files.quota import Reservation, Usage
from domain.models import FileRecord, FileStatus, MultipartUpload, Visibility
from domain.ports import (
    Absent,
    Add,
    Check,
    Delete,
    Exists,
    Item,
    Key,
    Put,
    VersionIs,
    WriteOp,
)

# Server-made ids are uuid4 hex; anything else a client sends cannot name a file. Keeping
# ids to this alphabet also keeps "#" out of keys and makes every blob key valid.
_FILE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BLOB_KEY = re.compile(r"files/([A-Za-z0-9_-]{1,64})/blob")
# Stored text -> member, without the Enum call's machinery (~0.3 µs each, two per file
# read; a search reads ~20 files, a page 20): an unknown text still goes to the Enum,
# which refuses it as before.
_STATUSES = {member.value: member for member in FileStatus}
_VISIBILITIES = {member.value: member for member in Visibility}


def new_file_id() -> str:
    """The id_factory for production: random, so ids reveal nothing and never collide."""
    return uuid.uuid4().hex


def is_file_id(file_id: object) -> bool:
    return isinstance(file_id, str) and _FILE_ID.fullmatch(file_id) is not None


def file_key(file_id: str) -> Key:
    return Key(f"FILE#{file_id}", "META")


def share_key(file_id: str, user_id: str) -> Key:
    return Key(f"FILE#{file_id}", f"SHARE#{user_id}")


SHARE_PREFIX = "SHARE#"


def usage_key(owner_id: str) -> Key:
    return Key(f"USER#{owner_id}", "USAGE")


def owner_partition(owner_id: str) -> str:
    return f"OWNER#{owner_id}"


def shared_with_partition(user_id: str) -> str:
    return f"SHAREDWITH#{user_id}"


LISTING_PREFIX = "LIST#"


def owned_partition(owner_id: str) -> str:
    return f"{LISTING_PREFIX}O#{owner_id}"


def shared_listing_partition(user_id: str) -> str:
    return f"{LISTING_PREFIX}S#{user_id}"


def blob_key_for(file_id: str) -> str:
    return f"files/{file_id}/blob"


def ready_key_for(file_id: str) -> str:
    """A new key for a READY file's bytes, fresh per completion attempt: no upload URL
    names it, and two racing completions never write the same key."""
    return f"files/{file_id}/ready-{secrets.token_hex(8)}"


def file_id_from_blob_key(key: str) -> str | None:
    """The file whose upload key ``key`` is; None for any other key (ready keys too)."""
    match = _BLOB_KEY.fullmatch(key)
    return match.group(1) if match else None


# --- file meta ------------------------------------------------------------------------


def file_to_item(record: FileRecord) -> Item:
    key = file_key(record.id)
    created = to_iso(record.created_at)
    item: Item = {
        "pk": key.pk,
        "sk": key.sk,
        "type": "File",
        "id": record.id,
        "owner_id": record.owner_id,
        "name": record.name,
        "content_type": record.content_type,
        "size": record.size,
        "sha256": record.sha256,
        "status": record.status.value,
        "visibility": record.visibility.value,
        "description": record.description,
        "tags": list(record.tags),
        "shared_with": list(record.shared_with),
        "version": record.version,
        "created_at": created,
        "updated_at": to_iso(record.updated_at),
        "blob_key": record.blob_key,
        "gsi1pk": owner_partition(record.owner_id),
        "gsi1sk": f"{created}#{record.id}",
    }
    if record.expires_at is not None:
        item["expires_at"] = record.expires_at
    if record.multipart is not None:
        multipart: dict[str, Any] = {
            "upload_id": record.multipart.upload_id,
            "key": record.multipart.key,
            "part_size": record.multipart.part_size,
            "part_count": record.multipart.part_count,
        }
        if record.multipart.part_checksums:
            # Only when set: items of uploads without part checksums stay as they were.
            multipart["part_checksums"] = True
        item["multipart"] = multipart
    return item


def _multipart_from(value: Any) -> MultipartUpload | None:
    if not value:
        return None
    return MultipartUpload(
        upload_id=str(value["upload_id"]),
        key=str(value["key"]),
        part_size=int(value["part_size"]),
        part_count=int(value["part_count"]),
        part_checksums=bool(value.get("part_checksums", False)),
    )


def file_from_item(item: Item) -> FileRecord:
    return FileRecord(
        id=item["id"],
        owner_id=item["owner_id"],
        name=item["name"],
        content_type=item["content_type"],
        size=item["size"],
        sha256=item.get("sha256"),
        status=_STATUSES.get(item["status"]) or FileStatus(item["status"]),
        visibility=_VISIBILITIES.get(item["visibility"]) or Visibility(item["visibility"]),
        description=item.get("description"),
        tags=tuple(item.get("tags") or ()),
        shared_with=tuple(item.get("shared_with") or ()),
        version=item["version"],
        created_at=from_iso(item["created_at"]),
        updated_at=from_iso(item["updated_at"]),
        blob_key=item["blob_key"],
        expires_at=item.get("expires_at"),
        multipart=_multipart_from(item.get("multipart")),
    )


def put_new_file(record: FileRecord) -> Put:
    return Put(file_to_item(record), condition=Absent())


def put_file_over(record: FileRecord, previous_version: int) -> Put:
    """Store ``record`` only if the stored meta is still at ``previous_version``."""
    return Put(file_to_item(record), condition=VersionIs(previous_version))


def delete_file(record: FileRecord) -> Delete:
    return Delete(file_key(record.id), condition=VersionIs(record.version))


# --- shares ---------------------------------------------------------------------------


def put_share(record: FileRecord, user_id: str, shared_at: str) -> Put:
    """``shared_at`` is ISO text; a PENDING file's share expires with the file so that
    unfinished uploads cannot leave share items behind in anyone's listing."""
    key = share_key(record.id, user_id)
    item: Item = {
        "pk": key.pk,
        "sk": key.sk,
        "type": "FileShare",
        "file_id": record.id,
        "user_id": user_id,
        "shared_at": shared_at,
        "gsi1pk": shared_with_partition(user_id),
        "gsi1sk": f"{shared_at}#{record.id}",
    }
    if record.expires_at is not None:
        item["expires_at"] = record.expires_at
    return Put(item)


def delete_share(file_id: str, user_id: str) -> Delete:
    return Delete(share_key(file_id, user_id))


def share_times(items: Iterable[Item]) -> dict[str, str]:
    """user id -> shared_at of a file's share items."""
    return {item["user_id"]: item["shared_at"] for item in items}


# --- listings -------------------------------------------------------------------------


def owned_listing_key(record: FileRecord) -> Key:
    return Key(owned_partition(record.owner_id), f"{to_iso(record.created_at)}#{record.id}")


def put_owned_listing(record: FileRecord) -> Put:
    """Expires with a PENDING file; completing the file writes it again without a TTL."""
    key = owned_listing_key(record)
    item: Item = {"pk": key.pk, "sk": key.sk, "type": "FileListing", "file_id": record.id}
    if record.expires_at is not None:
        item["expires_at"] = record.expires_at
    return Put(item)


def delete_owned_listing(record: FileRecord) -> Delete:
    return Delete(owned_listing_key(record))


def shared_listing_key(file_id: str, user_id: str, shared_at: str) -> Key:
    return Key(shared_listing_partition(user_id), f"{shared_at}#{file_id}")


def put_shared_listing(file_id: str, user_id: str, shared_at: str) -> Put:
    """No TTL: completing a file rewrites its shares, and rewriting these as well would
    not fit the share cap into one write. One left behind by an abandoned upload names a
    missing file, which readers drop."""
    key = shared_listing_key(file_id, user_id, shared_at)
    return Put(
        {
            "pk": key.pk,
            "sk": key.sk,
            "type": "FileShareListing",
            "file_id": file_id,
            "user_id": user_id,
        }
    )


def delete_shared_listing(file_id: str, user_id: str, shared_at: str) -> Delete:
    return Delete(shared_listing_key(file_id, user_id, shared_at))


def shared_file_id(item: Item) -> str:
    """The file a share item or a listing item names."""
    return str(item["file_id"])


def listing_items_of(item: Item) -> list[Item]:
    """The listing items a stored meta or share item needs (for rebuilding them)."""
    if item.get("type") == "File" and item.get("sk") == "META":
        return [put_owned_listing(file_from_item(item)).item]
    if item.get("type") == "FileShare":
        return [put_shared_listing(item["file_id"], item["user_id"], item["shared_at"]).item]
    return []


# --- usage ----------------------------------------------------------------------------

RESERVATION_PREFIX = "RESERVATION#"


def reservation_key(owner_id: str, file_id: str) -> Key:
    return Key(f"USER#{owner_id}", f"{RESERVATION_PREFIX}{file_id}")


def reservation_partition(owner_id: str) -> str:
    return f"USER#{owner_id}"


def usage_from_item(owner_id: str, item: Item | None) -> Usage:
    if item is None:
        return Usage(owner_id)
    return Usage(
        owner_id,
        used_bytes=int(item.get("used_bytes", 0)),
        pending_uploads=int(item.get("pending_uploads", 0)),
    )


def reservation_from_item(item: Item) -> Reservation:
    return Reservation(str(item["file_id"]), int(item["size"]), int(item["reserved_until"]))


def _add_usage(owner_id: str, deltas: dict[str, int], at_most: dict[str, int] | None = None) -> Add:
    # Every change also counts in "version", so that a recount (recount.py) can replace
    # the item on condition that nothing changed it since the recount read it.
    return Add(
        usage_key(owner_id),
        {**deltas, "version": 1},
        at_most=at_most or {},
        defaults={"type": "FileUsage", "owner_id": owner_id},
    )


def put_recounted_usage(usage: Usage, version: int | None) -> Put:
    """The whole usage item as a recount found it (older attributes dropped), only if no
    change committed since the recount read ``version`` (None: there was no item)."""
    key = usage_key(usage.owner_id)
    item: Item = {
        "pk": key.pk,
        "sk": key.sk,
        "type": "FileUsage",
        "owner_id": usage.owner_id,
        "used_bytes": usage.used_bytes,
        "pending_uploads": usage.pending_uploads,
        "version": 1 if version is None else version + 1,
    }
    return Put(item, condition=Absent() if version is None else VersionIs(version))


def usage_owner_of(item: Item) -> str | None:
    """Whose usage an item bears on: a file meta's owner, or the user of a ``USER#``
    partition (profile, usage, reservation)."""
    if item.get("type") == "File" and item.get("sk") == "META":
        return str(item["owner_id"])
    pk, sk = str(item.get("pk", "")), str(item.get("sk", ""))
    if pk.startswith("USER#") and (sk in ("PROFILE", "USAGE") or sk.startswith(RESERVATION_PREFIX)):
        return pk[len("USER#") :]
    return None


def _reservation_item(record: FileRecord) -> Item:
    assert record.expires_at is not None
    key = reservation_key(record.owner_id, record.id)
    return {
        "pk": key.pk,
        "sk": key.sk,
        "type": "FileReservation",
        "file_id": record.id,
        "size": record.size,
        # Not "expires_at", the table's TTL attribute: a reservation the store dropped on
        # its own would never release its bytes.
        "reserved_until": record.expires_at,
    }


def reserve(record: FileRecord, *, quota_bytes: int, max_pending: int) -> Add:
    """Count a new PENDING file's bytes, written alone and before the file; the store
    refuses (ConflictError) past the quota or the cap on unfinished uploads."""
    return _add_usage(
        record.owner_id,
        {"used_bytes": record.size, "pending_uploads": 1},
        {"used_bytes": quota_bytes, "pending_uploads": max_pending},
    )


def put_reservation(record: FileRecord) -> Put:
    """The reservation item of a new PENDING file, written with the file once ``reserve``
    counted its bytes."""
    return Put(_reservation_item(record), condition=Absent())


def reserve_existing(record: FileRecord) -> list[WriteOp]:
    """A reservation for a PENDING file that has none (made before reservations existed),
    if the file is still at that version: its bytes are in use already, so no bound. One
    transaction with the usage item: only a recount writes this, never a hot path."""
    return [
        Put(_reservation_item(record), condition=Absent()),
        Check(file_key(record.id), VersionIs(record.version)),
        _add_usage(record.owner_id, {"used_bytes": record.size, "pending_uploads": 1}),
    ]


def settle(record: FileRecord) -> Delete:
    """The upload completed: its reservation goes, with the READY file, unless something
    else released it first (then the completion must not commit)."""
    return Delete(reservation_key(record.owner_id, record.id), condition=Exists())


def settled_usage(record: FileRecord) -> Add:
    """After ``settle`` committed: the bytes stay counted, as READY bytes now."""
    return _add_usage(record.owner_id, {"pending_uploads": -1})


def release(record: FileRecord) -> list[WriteOp]:
    """Written with the file's deletion: a PENDING file's reservation goes too."""
    if record.status is FileStatus.READY:
        return []
    return [reclaim(record.owner_id, Reservation(record.id, record.size, 0))]


def released_usage(record: FileRecord) -> Add:
    """After ``release`` committed with the deletion: the file's bytes are free."""
    if record.status is FileStatus.READY:
        return _add_usage(record.owner_id, {"used_bytes": -record.size})
    return reclaimed_usage(record.owner_id, Reservation(record.id, record.size, 0))


def reclaim(owner_id: str, reservation: Reservation) -> Delete:
    """Release a reservation, unless completing, deleting or reclaiming already did: only
    whoever deletes the reservation item goes on to ``reclaimed_usage``."""
    return Delete(reservation_key(owner_id, reservation.file_id), condition=Exists())


def reclaimed_usage(owner_id: str, reservation: Reservation) -> Add:
    return _add_usage(owner_id, {"used_bytes": -reservation.size, "pending_uploads": -1})


# --- share links ----------------------------------------------------------------------

LINK_PREFIX = "LINK#"


def link_key(file_id: str, link_id: str) -> Key:
    return Key(f"FILE#{file_id}", f"{LINK_PREFIX}{link_id}")


def link_token_key(token_sha256: str) -> Key:
    return Key(f"SHARETOKEN#{token_sha256}", "TOKEN")


def put_share_link(link: ShareLink) -> list[WriteOp]:
    """The link (listed under its file, holding the download count) and the item its
    token's hash finds it by. Both carry ``expires_at``: the TTL removes them after it."""
    key = link_key(link.file_id, link.id)
    token_key = link_token_key(link.token_sha256)
    link_item: Item = {
        "pk": key.pk,
        "sk": key.sk,
        "type": "ShareLink",
        "id": link.id,
        "file_id": link.file_id,
        "token_sha256": link.token_sha256,
        "created_at": to_iso(link.created_at),
        "expires_at": link.expires_at,
        "downloads": link.downloads,
        "max_downloads": link.max_downloads,
    }
    token_item: Item = {
        "pk": token_key.pk,
        "sk": token_key.sk,
        "type": "ShareLinkToken",
        "file_id": link.file_id,
        "link_id": link.id,
        "expires_at": link.expires_at,
    }
    return [Put(link_item, condition=Absent()), Put(token_item, condition=Absent())]


def share_link_from_item(item: Item) -> ShareLink:
    max_downloads = item.get("max_downloads")
    return ShareLink(
        id=str(item["id"]),
        file_id=str(item["file_id"]),
        token_sha256=str(item["token_sha256"]),
        created_at=from_iso(item["created_at"]),
        expires_at=int(item["expires_at"]),
        downloads=int(item.get("downloads", 0)),
        max_downloads=None if max_downloads is None else int(max_downloads),
    )


def token_target(item: Item) -> tuple[str, str]:
    """(file id, link id) a token item points at."""
    return str(item["file_id"]), str(item["link_id"])


def delete_share_link(link: ShareLink, *, must_exist: bool = False) -> list[WriteOp]:
    condition = Exists() if must_exist else None
    return [
        Delete(link_key(link.file_id, link.id), condition=condition),
        Delete(link_token_key(link.token_sha256)),
    ]


def count_download(link: ShareLink) -> list[WriteOp]:
    """One more download, counted by the store (bounded by the link's cap), and only while
    the token item exists: revoking the link or deleting its file removes it in the same
    write as the link, so a count can never recreate a removed link."""
    bound = {} if link.max_downloads is None else {"downloads": link.max_downloads}
    return [
        Add(link_key(link.file_id, link.id), {"downloads": 1}, at_most=bound),
        Check(link_token_key(link.token_sha256), Exists()),
    ]
