"""Multipart uploads: a large file's bytes sent in parts the server planned, each part to
its own presigned URL, resumable (the store lists what it holds) and assembled by the store
on completion, straight at the key the READY bytes keep: once assembled, no part URL can
write there again, so no copy is needed as for single uploads (uploads.py).

The plan follows S3: parts of ``multipart_part_bytes`` (at least 5 MiB) but the last, and
never more than 10,000 of them (larger parts for larger files)."""

import base64
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from domain.access import may_change_file
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.files import items as file_items
from domain.files.checks import NOT_FOUND_MESSAGE, check_changeable
from domain.files.deps import FileDeps
from domain.files.limits import FileLimits
from domain.files.rules import clean_sha256
from domain.models import FileRecord, FileStatus, MultipartUpload, Principal
from domain.ports import BlobInfo, PartTarget

logger = logging.getLogger(__name__)

MAX_PARTS = 10_000
MAX_PARTS_PER_CALL = 100
_MIB = 1024 * 1024
NOT_MULTIPART_MESSAGE = "This upload is a single one: send its bytes to its upload target"
# A file restored from a backup keeps its plan but not its store upload (ops/backup).
PARTS_GONE_MESSAGE = (
    "This upload's parts are gone (restored from a backup): abort it and upload again"
)


@dataclass(frozen=True, slots=True)
class CompletedPart:
    """One part of a multipart upload as the client reports it at completion."""

    part_number: int
    etag: str
    sha256: str | None = None


def wants_multipart(limits: FileLimits, size: int, asked: bool) -> bool:
    return asked or size > limits.multipart_threshold_bytes


def check_verifiable(limits: FileLimits, size: int, part_checksums: bool) -> None:
    """Refuse, before anything is stored or reserved, a multipart upload whose bytes the
    server could only verify by reading them back: past the limit that read does not fit
    in a request, so its completion would fail however often it was retried."""
    if size > limits.multipart_inline_verify_max_bytes and not part_checksums:
        raise InvalidInputError(
            f"Files over {limits.multipart_inline_verify_max_bytes} bytes are uploaded with "
            "partChecksums: true (give each part's sha256 to uploadParts)"
        )


def plan(limits: FileLimits, size: int) -> tuple[int, int]:
    """(part size, part count) for a ``size``-byte file."""
    part_size = limits.multipart_part_bytes
    if -(-size // part_size) > MAX_PARTS:
        # Whole MiB, so every part but the last stays a round size.
        part_size = -(-size // MAX_PARTS // _MIB) * _MIB
        part_size = max(part_size, -(-size // MAX_PARTS))
    return part_size, max(1, -(-size // part_size))


async def start(deps: FileDeps, record: FileRecord, *, part_checksums: bool) -> FileRecord:
    """``record`` with a freshly opened store upload; abort it if the record is not kept."""
    part_size, part_count = plan(deps.limits, record.size)
    key = file_items.ready_key_for(record.id)
    upload_id = await deps.blobs.start_multipart(
        key, content_type=record.content_type, part_checksums=part_checksums
    )
    upload = MultipartUpload(upload_id, key, part_size, part_count, part_checksums)
    return replace(record, multipart=upload)


async def abort_store_upload(deps: FileDeps, record: FileRecord) -> None:
    """Best effort: the store's own expiry removes an upload this could not."""
    if record.multipart is None or not record.multipart.upload_id:
        return
    try:
        await deps.blobs.abort_multipart(record.multipart.key, record.multipart.upload_id)
    except Exception:
        logger.warning("files: could not abort a multipart upload; left to expire", exc_info=True)


async def _open_upload(deps: FileDeps, viewer: Principal, file_id: str) -> FileRecord:
    now = deps.clock()
    record = await deps.files.get(file_id, include_expired=True)
    if record is None or (record.is_expired(now) and not may_change_file(viewer, record)):
        raise NotFoundError(NOT_FOUND_MESSAGE)
    record = check_changeable(viewer, record)
    if record.status is FileStatus.READY:
        raise InvalidInputError("This upload is already complete")
    if record.is_expired(now):
        raise InvalidInputError("The upload expired before it was completed; start a new one")
    if record.multipart is None:
        raise InvalidInputError(NOT_MULTIPART_MESSAGE)
    if not record.multipart.upload_id:
        raise InvalidInputError(PARTS_GONE_MESSAGE)
    return record


def _check_numbers(numbers: Sequence[int], part_count: int) -> None:
    for number in numbers:
        if isinstance(number, bool) or not isinstance(number, int):
            raise InvalidInputError("part numbers must be whole numbers")
        if not 1 <= number <= part_count:
            raise InvalidInputError(f"part numbers must be between 1 and {part_count}")
    if len(set(numbers)) != len(numbers):
        raise InvalidInputError("each part number may appear only once")


def _part_checksums(
    upload: MultipartUpload, part_numbers: Sequence[int], sha256: Sequence[str] | None
) -> list[str | None]:
    """Each asked part's SHA-256 (lowercase hex), or None for an upload without them: the
    store's upload takes part checksums from every part or from none."""
    if not upload.part_checksums:
        if sha256 is not None:
            raise InvalidInputError(
                "This upload was created without partChecksums: omit sha256 "
                "(or start an upload with partChecksums: true)"
            )
        return [None] * len(part_numbers)
    if sha256 is None:
        raise InvalidInputError(
            "This upload was created with partChecksums: give each part's sha256"
        )
    if len(sha256) != len(part_numbers):
        raise InvalidInputError("sha256 must list one checksum per part number, in order")
    return [clean_sha256(value) for value in sha256]


async def upload_parts(
    deps: FileDeps,
    viewer: Principal,
    file_id: str,
    part_numbers: Sequence[int],
    sha256: Sequence[str] | None = None,
) -> list[PartTarget]:
    record = await _open_upload(deps, viewer, file_id)
    upload = record.multipart
    assert upload is not None
    if not 1 <= len(part_numbers) <= MAX_PARTS_PER_CALL:
        raise InvalidInputError(f"ask for 1 to {MAX_PARTS_PER_CALL} parts per call")
    _check_numbers(part_numbers, upload.part_count)
    checksums = _part_checksums(upload, part_numbers, sha256)
    targets = []
    for number, checksum in zip(part_numbers, checksums, strict=True):
        try:
            target = await deps.blobs.presign_part(
                upload.key,
                upload.upload_id,
                number,
                size=upload.part_length(number, record.size),
                expires_in=deps.limits.upload_expiry_seconds,
                sha256=checksum,
            )
        except NotFoundError:
            raise InvalidInputError("This upload is no longer open; start a new one") from None
        targets.append(target)
    return targets


async def uploaded_part_numbers(deps: FileDeps, viewer: Principal, record: FileRecord) -> list[int]:
    """What the store holds of a PENDING multipart file, for whoever may complete it;
    [] for everyone else and every other file."""
    upload = record.multipart
    if upload is None or not upload.upload_id or record.status is not FileStatus.PENDING:
        return []
    if not may_change_file(viewer, record):
        return []
    try:
        parts = await deps.blobs.uploaded_parts(upload.key, upload.upload_id)
    except NotFoundError:
        return []
    return [part.part_number for part in parts]


async def assemble(
    deps: FileDeps, record: FileRecord, parts: Sequence[CompletedPart]
) -> tuple[str, BlobInfo, str | None]:
    """Check the client's parts list against the plan and what the store holds, then have
    the store assemble them: (the READY key, what it stored, why the store's checksums do
    not vouch for what it assembled — None when they do). InvalidInputError, with nothing
    changed, for a list that does not fit."""
    upload = record.multipart
    assert upload is not None
    if not upload.upload_id:
        raise InvalidInputError(PARTS_GONE_MESSAGE)
    numbers = [part.part_number for part in parts]
    _check_numbers(numbers, upload.part_count)
    missing = sorted(set(range(1, upload.part_count + 1)) - set(numbers))
    if missing:
        raise InvalidInputError(f"parts missing from the list: {_shown(missing)}")
    try:
        held_parts = await deps.blobs.uploaded_parts(upload.key, upload.upload_id)
    except NotFoundError:
        # Closed: by an earlier completion that assembled the parts but ran out of time
        # before the file was saved READY (the store finishes what it started), or aborted.
        return await _assembled_earlier(deps, upload, parts)
    stored = {part.part_number: part for part in held_parts}
    for part in sorted(parts, key=lambda p: p.part_number):
        held = stored.get(part.part_number)
        if held is None:
            raise InvalidInputError(f"part {part.part_number} has not been uploaded")
        if held.etag.strip('"') != part.etag.strip().strip('"'):
            raise InvalidInputError(f"part {part.part_number}: the ETag does not match")
        expected = upload.part_length(part.part_number, record.size)
        if held.size != expected:
            raise InvalidInputError(
                f"part {part.part_number} is {held.size} bytes, {expected} were expected"
            )
        if upload.part_checksums and held.sha256 is None:
            raise InvalidInputError(f"part {part.part_number} was stored without its SHA-256")
        if part.sha256 is not None and held.sha256 is not None:
            if clean_sha256(part.sha256) != held.sha256:
                raise InvalidInputError(f"part {part.part_number}: SHA-256 differs")
    ordered = [
        (p.part_number, stored[p.part_number].etag)
        for p in sorted(parts, key=lambda p: p.part_number)
    ]
    # The store (S3) wants every part's recorded checksum back when its upload has them.
    checksums = (
        {number: held.sha256 for number, held in stored.items() if held.sha256 is not None}
        if upload.part_checksums
        else None
    )
    try:
        info = await deps.blobs.complete_multipart(
            upload.key, upload.upload_id, ordered, checksums=checksums
        )
    except NotFoundError:
        raise ConflictError("This upload was closed meanwhile") from None
    digests = [stored[number].sha256 for number, _ in ordered]
    return upload.key, info, _unvouched(upload, info, digests)


def composite_sha256(digests: Sequence[str]) -> str:
    """S3's COMPOSITE checksum of parts with these SHA-256 digests (hex, in part order):
    base64(sha256(the raw digests, concatenated)) + "-<part count>"."""
    joined = b"".join(bytes.fromhex(digest) for digest in digests)
    return f"{base64.b64encode(hashlib.sha256(joined).digest()).decode()}-{len(digests)}"


def _unvouched(
    upload: MultipartUpload, info: BlobInfo, digests: Sequence[str | None] | None
) -> str | None:
    """Why what the store assembled is not shown to be the parts checked; None when it is.
    A store that hashed the bytes (``sha256``) is compared with the declaration by the
    caller. Otherwise the store must report the composite of exactly the part checksums
    it listed, in order; ``digests`` None means they are no longer listed (the upload
    closed), and then the composite must at least cover every planned part."""
    if info.sha256 is not None:
        return None
    composite = info.composite_sha256
    if not upload.part_checksums or composite is None:
        return "the store reported no checksum of the assembled file"
    if digests is None:
        if composite.rpartition("-")[2] != str(upload.part_count):
            return "the assembled file is not made of the planned parts"
        return None
    known = [digest for digest in digests if digest is not None]
    if len(known) != len(digests) or composite != composite_sha256(known):
        return "the assembled file's checksum differs from its parts' SHA-256 checksums"
    return None


async def _assembled_earlier(
    deps: FileDeps, upload: MultipartUpload, parts: Sequence[CompletedPart]
) -> tuple[str, BlobInfo, str | None]:
    info = await deps.blobs.head(upload.key)
    if info is None:
        raise ConflictError("This upload was closed meanwhile")
    if info.sha256 is not None:
        return upload.key, info, None
    if upload.part_checksums:
        # The parts are no longer listed; the client's own part checksums, when it gave
        # every one, are checked against the composite exactly.
        ordered = sorted(parts, key=lambda p: p.part_number)
        given = [sha for p in ordered if (sha := clean_sha256(p.sha256)) is not None]
        digests = given if len(given) == len(ordered) else None
        if digests and info.composite_sha256 not in (None, composite_sha256(digests)):
            # The client's list or the store is wrong; which, the client can tell: refused
            # with nothing changed, so a retry with the sums it first sent still works.
            raise InvalidInputError(
                "the parts' sha256 values do not match the assembled file; "
                "complete with the ones each part was uploaded with"
            )
        return upload.key, info, _unvouched(upload, info, digests)
    # An upload without part checksums: S3 keeps no SHA-256 of it, so hash it again,
    # streamed (bounded by the request deadline: createUpload lets only files up to
    # FileLimits.multipart_inline_verify_max_bytes go this way).
    digest = hashlib.sha256()
    async for chunk in deps.blobs.read(upload.key):
        digest.update(chunk)
    return upload.key, replace(info, sha256=digest.hexdigest()), None


async def reopen_after_mismatch(deps: FileDeps, record: FileRecord) -> None:
    """The assembled bytes were not the declared ones and are gone: give the PENDING file
    a fresh store upload, so the client can send its parts again."""
    assert record.multipart is not None
    fresh = await start(deps, record, part_checksums=record.multipart.part_checksums)
    reopened = replace(fresh, version=record.version + 1, updated_at=deps.clock())
    try:
        await deps.files.write([file_items.put_file_over(reopened, record.version)])
    except ConflictError:
        await abort_store_upload(deps, fresh)


def _shown(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")
