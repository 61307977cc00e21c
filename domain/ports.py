"""Ports: the small interfaces the domain needs from the outside world.

The ItemStore is shaped like DynamoDB (one table, a partition key ``pk`` and sort key
``sk``, global secondary indexes ``gsi1``/``gsi2``) so that the single-table design in
the repositories is written once and honoured exactly by SQLite, DynamoDB and the fake.
"""

from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from domain.models import Principal

# An item is a JSON-like mapping. It always holds "pk" and "sk"; it holds "<index>pk" and
# "<index>sk" (both strings) to appear in a secondary index; "version" (int) is what
# VersionIs conditions compare. Values: str, int, bool, None, lists and dicts of those.
# Floats are not allowed (DynamoDB would need Decimal); store numbers as int.
Item = dict[str, Any]

INDEXES: tuple[str, ...] = ("gsi1", "gsi2")
MAX_BATCH_GET = 100  # DynamoDB BatchGetItem limit per call
MAX_WRITE_ITEMS = 100  # DynamoDB TransactWriteItems limit per call
MAX_QUERY_LIMIT = 1000


def index_keys(index: str) -> tuple[str, str]:
    """Attribute names holding an index's partition and sort key."""
    return f"{index}pk", f"{index}sk"


@dataclass(frozen=True, slots=True)
class Key:
    """An item's primary key (partition and sort key), the same shape on DynamoDB and
    SQLite."""

    pk: str
    sk: str


@dataclass(frozen=True, slots=True)
class Absent:
    """The item must not exist."""


@dataclass(frozen=True, slots=True)
class Exists:
    """The item must exist."""


@dataclass(frozen=True, slots=True)
class VersionIs:
    """The item must exist and its "version" attribute must equal ``version``."""

    version: int


Condition = Absent | Exists | VersionIs


@dataclass(frozen=True, slots=True)
class Put:
    """Create or replace a whole item."""

    item: Item
    condition: Condition | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove an item; deleting a missing item is not an error unless a condition says so."""

    key: Key
    condition: Condition | None = None


@dataclass(frozen=True, slots=True)
class Check:
    """Write nothing, but fail the whole write unless the condition holds."""

    key: Key
    condition: Condition


@dataclass(frozen=True, slots=True)
class Add:
    """Add whole numbers to attributes of one item, evaluated by the store itself, so that
    concurrent Adds to one item serialise there and none is lost (no read, no version).

    A missing attribute counts as 0; a missing item is created holding its key, ``defaults``
    and the deltas. ``defaults`` are also set on an existing item where they are missing.
    The whole write fails with ConflictError, writing nothing, unless every attribute added
    to is missing or a number and every attribute named in ``at_most`` is, after the
    addition, at most its bound. Attribute names are plain identifiers (letters, digits,
    "_"), neither key nor index attributes; deltas and bounds lie within +-MAX_ADD."""

    key: Key
    deltas: Mapping[str, int]
    at_most: Mapping[str, int] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)


# Far below SQLite's 64-bit integers and DynamoDB's 38 digits: sums of a few such numbers
# stay exact everywhere.
MAX_ADD = 10**15

WriteOp = Put | Delete | Check | Add


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a query on the item store, with the cursors to go on from it or from any
    of its items."""

    items: list[Item]
    # Opaque; None exactly when there are no more items after this page.
    cursor: str | None = None
    # item_cursors[i] names items[i]: as ``after`` it resumes right after that item, and in
    # the same query with the other direction right before it. So a listing can stop or
    # turn round at any item without asking the store again.
    item_cursors: list[str] = field(default_factory=list)


class ItemStore(Protocol):
    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        """Point reads, batched. Result i belongs to keys[i] (None when missing);
        duplicate keys are allowed and each gets the item."""
        ...

    async def query(
        self,
        partition: str,
        *,
        index: str | None = None,
        prefix: str | None = None,
        after: str | None = None,
        limit: int = 100,
        descending: bool = False,
    ) -> Page:
        """Items of one partition (of the table, or of ``index``), ordered by sort key
        (ties in an index broken by table key), optionally only sort keys starting with
        ``prefix``; ``after`` is a cursor from a previous Page of the same query — or of
        the same query in the other direction, which resumes on the other side of the item
        it names (what paging backward needs). ``item_cursors`` holds one cursor per item.
        1 <= limit <= MAX_QUERY_LIMIT. A malformed cursor raises InvalidInputError."""
        ...

    async def write(self, ops: Sequence[WriteOp]) -> None:
        """Apply all ops atomically (at most MAX_WRITE_ITEMS, at most one op per key).
        A failed condition (or an Add's bound) raises ConflictError and writes nothing."""
        ...

    def scan(self, *, page_size: int = 500) -> AsyncIterator[list[Item]]:
        """Every item in pages, for backups and re-indexing; no order promised."""
        ...

    async def ping(self) -> None:
        """Cheap reachability check for readiness; raises StoreUnavailableError."""
        ...


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Principal:
        """Return who the token speaks for, or raise InvalidTokenError."""
        ...


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What the blob store knows of a stored object without reading its bytes: completing
    an upload checks the declared size, type and hash against it."""

    size: int
    content_type: str
    sha256: str | None  # lowercase hex, when the store knows it
    # For an object assembled from parts that each carried a SHA-256 (S3's COMPOSITE
    # checksum): base64(sha256(the parts' raw digests, in order)) + "-<part count>". Not
    # the hash of the bytes; the store never reports it for anything else.
    composite_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class UploadTarget:
    """Where and how a client sends the bytes itself: ``POST`` is a multipart form with
    ``fields`` first and the ``file`` part last; ``PUT`` is the raw body with ``headers``."""

    url: str
    method: str
    fields: dict[str, str]
    headers: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PartTarget:
    """Where and how a client sends one part of a multipart upload: ``PUT`` of the raw
    part bytes with ``headers`` (exactly ``size`` bytes; an ``x-amz-checksum-sha256``
    header, when a store takes one, makes it refuse bytes that differ)."""

    part_number: int
    url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class StoredPart:
    """A part the store has received. ``sha256`` (lowercase hex) when the store knows it."""

    part_number: int
    size: int
    etag: str
    sha256: str | None


class BlobStore(Protocol):
    """File bytes. Clients move bytes straight to and from the store through presigned
    URLs; the store itself enforces the declared size, content type and SHA-256."""

    async def presign_upload(
        self,
        key: str,
        *,
        size: int,
        content_type: str,
        sha256: str | None,
        expires_in: int,
    ) -> UploadTarget: ...

    async def presign_download(self, key: str, *, filename: str, expires_in: int) -> str:
        """A short-lived URL answering the bytes as an attachment named ``filename``."""
        ...

    async def head(self, key: str) -> BlobInfo | None: ...

    async def delete(self, key: str) -> None:
        """Remove the object; deleting a missing object is not an error."""
        ...

    async def copy(self, source_key: str, dest_key: str) -> None:
        """Server-side copy; NotFoundError when the source is missing. The copy is
        confirmed exactly when the source is."""
        ...

    async def confirm(self, key: str) -> None:
        """The upload at ``key`` became a kept file. Every upload starts unconfirmed, and
        unconfirmed uploads are removed by the store's lifecycle some time after the
        pending TTL: confirm before the metadata says READY. Idempotent; NotFoundError
        when nothing is stored at ``key``."""
        ...

    def read(self, key: str) -> AsyncIterator[bytes]:
        """The stored bytes in chunks (each at most a few hundred KiB), for backups; the
        whole object is never held in memory. NotFoundError (on first iteration) when
        nothing is stored at ``key``. Close the iterator when stopping early."""
        ...

    async def write(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str, sha256: str
    ) -> None:
        """Store ``chunks`` at ``key`` as a confirmed blob, for restores: it replaces what
        was there only if the bytes hash to ``sha256`` (lowercase hex); otherwise
        InvalidInputError and nothing changes. Streams: never the whole object in memory."""
        ...

    async def ping(self) -> None:
        """Cheap reachability check for readiness; raises StoreUnavailableError."""
        ...

    # --- multipart uploads: parts sent one by one, assembled at ``key`` on completion ---

    async def start_multipart(
        self, key: str, *, content_type: str, part_checksums: bool = False
    ) -> str:
        """Open a multipart upload whose object will be stored at ``key`` (unconfirmed,
        like every upload); answers its upload id. With ``part_checksums`` every part
        will carry its SHA-256 (S3 fixes this when the upload opens: all parts or none)."""
        ...

    async def presign_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        size: int,
        expires_in: int,
        sha256: str | None = None,
    ) -> PartTarget:
        """A URL taking exactly ``size`` bytes as part ``part_number`` (1..10000); sending
        a part again replaces it. With ``sha256`` (lowercase hex) the URL is signed for
        that checksum: the client must send the ``x-amz-checksum-sha256`` header the
        target's ``headers`` name, and the store refuses bytes that differ from it."""
        ...

    async def uploaded_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        """The parts received so far, by part number; NotFoundError when the upload is
        no longer open (completed, aborted or expired)."""
        ...

    async def complete_multipart(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[tuple[int, str]],
        *,
        checksums: Mapping[int, str] | None = None,
    ) -> BlobInfo:
        """Assemble the (part number, ETag) parts, in order, into the object at ``key``
        and close the upload. Streams: never the whole object in memory. The answer's
        ``sha256`` is the assembled object's own, when the store hashed it; a store that
        verified each part's checksum instead (S3, upload opened with ``part_checksums``)
        answers ``sha256`` None and the object's ``composite_sha256``, without reading the
        object back. ``checksums`` (part number -> SHA-256 hex) for an upload opened with
        ``part_checksums``: S3 wants each part's back.
        InvalidInputError when a part is missing or its ETag or checksum differs (nothing
        changes); NotFoundError when the upload is no longer open."""
        ...

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Close the upload and drop its parts; idempotent."""
        ...


@dataclass(frozen=True, slots=True)
class IdentityUser:
    """A user as the identity provider knows them: the username they sign in with and the
    id (``sub``) their tokens carry."""

    username: str
    user_id: str


class IdentityAccounts(Protocol):
    """The identity provider's side of account changes (the dev IdP, or Cognito's admin
    API). Both changes are idempotent: repeating one after a crash is safe."""

    async def find_users_by_username(self, username: str) -> list[IdentityUser]:
        """Users whose username is exactly ``username`` (letter case included): none, one,
        or (a provider that allows it) several; a restore maps owners by it. Raises
        StoreUnavailableError when the provider cannot be asked."""
        ...

    async def sign_out_everywhere(self, username: str) -> None:
        """Revoke every refresh token of the user (Cognito: AdminUserGlobalSignOut)."""
        ...

    async def delete_identity(self, username: str) -> None:
        """Remove the user from the identity provider; a missing user is not an error."""
        ...


class ExportScheduler(Protocol):
    """Runs a data export's build outside the request that started it: a task in the
    server process, or an asynchronous invocation of the Lambda function. Either calls
    DataExports.build(user_id, export_id), which is safe to run twice."""

    async def schedule(self, user_id: str, export_id: str) -> None:
        """Hand the build over; StoreUnavailableError when it could not be."""
        ...
