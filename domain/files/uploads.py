"""Upload use cases: reserve quota and hand out an upload target; verify the stored bytes
and make the file READY (on the client's request or on the store's ObjectCreated event)."""

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from domain.access import may_change_file
from domain.clock import epoch
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.files import items as file_items
from domain.files import multipart
from domain.files.checks import NOT_FOUND_MESSAGE, check_changeable
from domain.files.deps import (
    SAVE_ATTEMPTS,
    FileDeps,
    count_usage,
    discard_blob,
    gave_up,
    index_for_search,
    index_new_for_search,
)
from domain.files.events import FileEventKind, publish
from domain.files.models import NewFile
from domain.files.quota import Reservation, over_limit
from domain.files.rules import (
    check_size,
    check_visibility,
    clean_content_type,
    clean_description,
    clean_name,
    clean_sha256,
    clean_tags,
)
from domain.models import FileRecord, FileStatus, Principal
from domain.ports import Add, BlobInfo, UploadTarget, WriteOp
from domain.retries import LOST_RACE, LostRace, retry_lost_races

logger = logging.getLogger(__name__)


async def create_upload(
    deps: FileDeps, viewer: Principal, new: NewFile
) -> tuple[FileRecord, UploadTarget | None]:
    """The PENDING file and its single upload target; None as the target when the bytes
    go in parts (``record.multipart``: then ask for part targets)."""
    record = _pending_record(deps, viewer, new)
    target: UploadTarget | None = None
    if multipart.wants_multipart(deps.limits, record.size, new.multipart):
        multipart.check_verifiable(deps.limits, record.size, new.part_checksums)
        record = await multipart.start(deps, record, part_checksums=new.part_checksums)
    else:
        # Presigning writes nothing; doing it first means a declaration the store refuses
        # leaves no file and no reservation behind.
        target = await deps.blobs.presign_upload(
            record.blob_key,
            size=record.size,
            content_type=record.content_type,
            sha256=record.sha256,
            expires_in=deps.limits.upload_expiry_seconds,
        )
    try:
        await _save_new(deps, viewer, record)
    except BaseException:
        await multipart.abort_store_upload(deps, record)
        raise
    await publish(deps, FileEventKind.CREATED, record)
    return record, target


async def _save_new(deps: FileDeps, viewer: Principal, record: FileRecord) -> None:
    # The bytes are counted first, alone (count_usage says why): the store refuses the
    # addition past the quota, so parallel uploads of one user serialise in the store,
    # with no retry loop.
    counted = _reservation(deps, record)
    try:
        await deps.files.write([counted])
    except ConflictError:
        if not await _reclaim_expired(deps, viewer.user_id, epoch(record.created_at)):
            raise await _over_limit(deps, record) from None
        try:
            await deps.files.write([counted])  # once more, with what expired uploads held
        except ConflictError:
            raise await _over_limit(deps, record) from None
    try:
        await deps.files.write(
            [
                file_items.put_new_file(record),
                file_items.put_owned_listing(record),
                file_items.put_reservation(record),
            ]
        )
    except ConflictError:
        # Refused outright (the id is new, so this is not expected): nothing was written,
        # so the bytes are given back. Any other failure may have written the file, and
        # leaves them counted: too high is safe, too low is not.
        await count_usage(deps, file_items.reclaimed_usage(record.owner_id, _reserved(record)))
        raise


def _reservation(deps: FileDeps, record: FileRecord) -> Add:
    limits = deps.limits
    return file_items.reserve(
        record, quota_bytes=limits.quota_bytes, max_pending=limits.max_pending_uploads
    )


def _reserved(record: FileRecord) -> Reservation:
    return Reservation(record.id, record.size, record.expires_at or 0)


async def _reclaim_expired(deps: FileDeps, owner_id: str, now: int) -> bool:
    """Release the reservations of the owner's uploads that expired unfinished; whether any
    was released here. Each release is conditioned on the reservation still existing, so a
    racing completion, deletion or reclaim releases it once, never twice."""
    released = False
    for reservation in await deps.files.reservations(owner_id):
        if now < reservation.expires_at:
            continue
        try:
            await deps.files.write([file_items.reclaim(owner_id, reservation)])
        except ConflictError:
            continue  # released meanwhile by someone else
        await count_usage(deps, file_items.reclaimed_usage(owner_id, reservation))
        released = True
    return released


async def _over_limit(deps: FileDeps, record: FileRecord) -> InvalidInputError:
    usage = await deps.files.usage(record.owner_id)
    return over_limit(
        usage,
        record.size,
        quota_bytes=deps.limits.quota_bytes,
        max_pending=deps.limits.max_pending_uploads,
    )


def _pending_record(deps: FileDeps, viewer: Principal, new: NewFile) -> FileRecord:
    name = clean_name(new.name)
    content_type = clean_content_type(new.content_type)
    size = check_size(new.size, deps.limits.max_upload_bytes)
    if not isinstance(new.multipart, bool):
        raise InvalidInputError("multipart must be true or false")
    if not isinstance(new.part_checksums, bool):
        raise InvalidInputError("partChecksums must be true or false")
    sha256 = clean_sha256(new.sha256)
    description = clean_description(new.description)
    tags = clean_tags(new.tags)
    visibility = check_visibility(new.visibility)
    file_id = deps.new_id()
    if not file_items.is_file_id(file_id):
        raise ValueError("id_factory must make ids of 1-64 letters, digits, '_' or '-'")
    now = deps.clock()
    return FileRecord(
        id=file_id,
        owner_id=viewer.user_id,
        name=name,
        content_type=content_type,
        size=size,
        sha256=sha256,
        status=FileStatus.PENDING,
        visibility=visibility,
        description=description,
        tags=tags,
        shared_with=(),
        version=1,
        created_at=now,
        updated_at=now,
        blob_key=file_items.blob_key_for(file_id),
        expires_at=epoch(now) + deps.limits.pending_ttl_seconds,
    )


async def complete_upload(
    deps: FileDeps,
    viewer: Principal,
    file_id: str,
    parts: Sequence[multipart.CompletedPart] | None = None,
) -> FileRecord:
    """``parts`` is required for a multipart upload and refused for a single one."""

    async def attempt(_: int) -> FileRecord | LostRace:
        now = deps.clock()
        record = await deps.files.get(file_id, include_expired=True)
        # Expired is missing, except to whoever could complete it: they get told why.
        if record is None or (record.is_expired(now) and not may_change_file(viewer, record)):
            raise NotFoundError(NOT_FOUND_MESSAGE)
        record = check_changeable(viewer, record)
        if record.status is FileStatus.READY:
            # Idempotent, and a retry also finishes indexing that a crash interrupted.
            await index_for_search(deps, record.id)
            return record
        if record.is_expired(now):
            raise InvalidInputError("The upload expired before it was completed; start a new one")
        if record.multipart is None and parts is not None:
            raise InvalidInputError("parts are only for multipart uploads; omit them")
        if record.multipart is not None and not parts:
            raise InvalidInputError("a multipart upload is completed with its parts list")
        try:
            if parts:
                return await _assemble_and_settle(deps, record, parts, now)
            return await _verify_and_settle(deps, record, now)
        except ConflictError:
            return LOST_RACE  # completed, changed or deleted meanwhile: look again

    return await retry_lost_races(attempt, attempts=SAVE_ATTEMPTS, give_up=gave_up)


async def complete_upload_from_store_event(deps: FileDeps, key: str) -> FileRecord | None:
    """For the blob store's ObjectCreated notification: the same checks as complete_upload,
    with no viewer. Keys that are not a live file's, and bytes that do not match, are
    logged and ignored (None): retrying the event could not change the outcome."""
    file_id = file_items.file_id_from_blob_key(key)
    if file_id is None:
        logger.info("files: ignoring a store event for unknown key %r", key)
        return None

    async def attempt(_: int) -> FileRecord | LostRace | None:
        record = await deps.files.get(file_id)
        if record is None:
            logger.info("files: store event for missing or expired file %s", file_id)
            return None
        if record.status is FileStatus.READY:
            if record.blob_key != key:
                # Bytes sent after completion through a still-valid upload URL: never
                # served (the file reads its ready key), so only removed.
                await discard_blob(deps.blobs, key)
            return record
        try:
            return await _verify_and_settle(deps, record, deps.clock())
        except InvalidInputError as exc:
            logger.warning("files: upload of file %s not accepted: %s", file_id, exc)
            return None
        except ConflictError:
            return LOST_RACE

    return await retry_lost_races(attempt, attempts=SAVE_ATTEMPTS, give_up=gave_up)


async def _verify_and_settle(deps: FileDeps, record: FileRecord, now: datetime) -> FileRecord:
    upload_key = record.blob_key
    # Checked here first so that bad bytes are removed before any copy, letting the
    # client upload again with the same target.
    await _check_blob(deps, record, upload_key)
    # The upload URL stays valid after completion, and S3 cannot refuse a second POST to
    # it: a READY file's bytes live at a fresh key no URL names, copied server-side, and
    # only that copy is checked and recorded — whatever reaches the upload key after the
    # check above cannot become the READY bytes unchecked.
    ready_key = file_items.ready_key_for(record.id)
    try:
        await deps.blobs.copy(upload_key, ready_key)
    except NotFoundError:
        raise InvalidInputError(_NO_BYTES) from None
    try:
        info = await _check_blob(deps, record, ready_key)
        # Confirm before READY is written: READY bytes still marked as an unconfirmed
        # upload would be deleted by the store's lifecycle.
        await deps.blobs.confirm(ready_key)
    except NotFoundError:
        raise InvalidInputError(_NO_BYTES) from None
    ready = _as_ready(record, info, ready_key, now)
    try:
        await _save_ready(deps, record, ready)
    except ConflictError:
        # Another completion (or a change) won: this copy is nobody's. Only the save's
        # conflict: once it has landed, the copy is the READY file's bytes whatever fails
        # next; and not on other failures, as a write that timed out may still have made
        # this copy the READY one.
        await discard_blob(deps.blobs, ready_key)
        raise
    await _announce_ready(deps, ready)
    await discard_blob(deps.blobs, upload_key)
    return ready


def _as_ready(record: FileRecord, info: BlobInfo, ready_key: str, now: datetime) -> FileRecord:
    return replace(
        record,
        status=FileStatus.READY,
        sha256=record.sha256 or (info.sha256.lower() if info.sha256 else None),
        version=record.version + 1,
        updated_at=now,
        expires_at=None,
        blob_key=ready_key,
        multipart=None,
    )


async def _announce_ready(deps: FileDeps, ready: FileRecord) -> None:
    await index_new_for_search(deps, ready)
    await publish(deps, FileEventKind.READY, ready)


async def _assemble_and_settle(
    deps: FileDeps,
    record: FileRecord,
    parts: Sequence[multipart.CompletedPart],
    now: datetime,
) -> FileRecord:
    ready_key, info, unvouched = await multipart.assemble(deps, record, parts)
    problem = _mismatch(record, info) or unvouched
    if problem is not None:
        await discard_blob(deps.blobs, ready_key)
        await multipart.reopen_after_mismatch(deps, record)
        raise InvalidInputError(
            f"The uploaded bytes do not match the declaration: {problem}. The file stays "
            "PENDING with no parts: send them again"
        )
    await deps.blobs.confirm(ready_key)
    if record.multipart is not None and record.multipart.part_checksums:
        # The file's sha256 is then the uploader's declaration (or none) on every backend:
        # S3 keeps no hash of the whole file, only of each part (docs/UPLOAD_INTEGRITY.md).
        info = replace(info, sha256=None)
    # A racing completion of the same parts fails in the store (the upload is closed),
    # so the assembled key is never another attempt's: kept even if the save loses.
    ready = _as_ready(record, info, ready_key, now)
    await _save_ready(deps, record, ready)
    await _announce_ready(deps, ready)
    return ready


_NO_BYTES = "No bytes uploaded yet; send the file to the upload URL first"


async def _check_blob(deps: FileDeps, record: FileRecord, key: str) -> BlobInfo:
    """What is stored at ``key``, if it is what the PENDING ``record`` declares; otherwise
    InvalidInputError, with the blob and the upload it came from removed."""
    info = await deps.blobs.head(key)
    if info is None:
        raise InvalidInputError(_NO_BYTES)
    problem = _mismatch(record, info)
    if problem is not None:
        for stale in dict.fromkeys((key, record.blob_key)):
            await discard_blob(deps.blobs, stale)
        raise InvalidInputError(f"The uploaded bytes do not match the declaration: {problem}")
    return info


async def _save_ready(deps: FileDeps, record: FileRecord, ready: FileRecord) -> None:
    ops: list[WriteOp] = [
        file_items.put_file_over(ready, record.version),
        file_items.put_owned_listing(ready),  # without the PENDING file's TTL
        file_items.settle(record),
    ]
    if record.shared_with:
        # Rewritten without the TTL the PENDING file's shares carried.
        times = await deps.files.share_times(record.id)
        ops += [
            file_items.put_share(ready, user_id, times[user_id])
            for user_id in record.shared_with
            if user_id in times
        ]
    await deps.files.write(ops)
    await count_usage(deps, file_items.settled_usage(record))


def _mismatch(record: FileRecord, info: BlobInfo) -> str | None:
    if info.size != record.size:
        return f"size is {info.size} bytes, {record.size} were declared"
    if info.content_type.strip().lower() != record.content_type:
        return f"content type is {info.content_type!r}, {record.content_type!r} was declared"
    stored_sha256 = info.sha256.lower() if info.sha256 is not None else None
    if record.sha256 is not None and stored_sha256 not in (None, record.sha256):
        return "SHA-256 differs from the declared one"
    return None


async def accepts_upload(deps: FileDeps, key: str) -> bool:
    """Whether a live PENDING file waits for its bytes at ``key``. A blob store that can
    refuse writes (the local one) asks before it stores an upload, so a URL still valid
    after completion, deletion or expiry writes nothing."""
    file_id = file_items.file_id_from_blob_key(key)
    if file_id is None:
        return False
    record = await deps.files.get(file_id)
    return record is not None and record.status is FileStatus.PENDING and record.blob_key == key
