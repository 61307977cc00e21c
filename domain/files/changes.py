"""Changing and deleting files: optimistic writes guarded by the meta item's version.

A write is conditioned on the version that was read, so of two concurrent changes exactly
one lands. The loser re-reads and retries: with an ``expected_version`` the re-read shows
the version moved on and the caller gets ConflictError; without one its change is applied
on top of the winner's — no update is lost either way.
"""

from dataclasses import dataclass, replace

from domain.errors import InvalidInputError
from domain.files import items as file_items
from domain.files import multipart
from domain.files.checks import check_expected_version
from domain.files.deps import (
    SAVE_ATTEMPTS,
    FileDeps,
    changeable_file,
    count_usage,
    discard_blob,
    gave_up,
    index_for_search,
)
from domain.files.events import FileEventKind, publish
from domain.files.models import UNSET, FileChanges, ShareLink, Unset
from domain.files.rules import check_visibility, clean_description, clean_name, clean_tags
from domain.models import FileRecord, FileStatus, Principal, Visibility
from domain.ports import WriteOp
from domain.retries import LOST_RACE, LostRace, retry_lost_races, won


async def update_file(
    deps: FileDeps,
    viewer: Principal,
    file_id: str,
    changes: FileChanges,
    expected_version: int | None = None,
) -> FileRecord:
    cleaned = _clean(changes)  # before any read: invalid input costs no store call

    async def attempt(_: int) -> FileRecord | LostRace:
        record = await changeable_file(deps, viewer, file_id)
        check_expected_version(record, expected_version)
        changed = _apply(record, cleaned)
        if changed == record:
            return record  # nothing to change: no new version
        saved = replace(changed, version=record.version + 1, updated_at=deps.clock())
        if not await won(deps.files.write([file_items.put_file_over(saved, record.version)])):
            return LOST_RACE
        await index_for_search(deps, saved.id)
        await publish(deps, FileEventKind.UPDATED, saved)
        return saved

    return await retry_lost_races(attempt, attempts=SAVE_ATTEMPTS, give_up=gave_up)


async def delete_file(
    deps: FileDeps, viewer: Principal, file_id: str, expected_version: int | None = None
) -> str:
    """Meta, share items, share links, the owner's listing item and a PENDING file's
    reservation go in one atomic write; then the quota it held is given back, the shared
    listing items removed, and the bytes."""

    async def attempt(_: int) -> str | LostRace:
        record = await changeable_file(deps, viewer, file_id)
        check_expected_version(record, expected_version)
        links = await deps.files.share_links(record.id)
        times = await deps.files.share_times(record.id) if record.shared_with else {}
        if not await won(deps.files.write(_deletion(record, links))):
            return LOST_RACE
        await count_usage(deps, file_items.released_usage(record))
        # A second write (one would not hold the share cap twice over): a crash before it
        # leaves listing items naming a missing file, which readers drop.
        if times:
            await deps.files.write(
                [file_items.delete_shared_listing(record.id, uid, at) for uid, at in times.items()]
            )
        await index_for_search(deps, record.id)
        await publish(deps, FileEventKind.DELETED, record)
        # Only after the metadata is gone: a failure here can never bring the file back.
        await discard_blob(deps.blobs, record.blob_key)
        await multipart.abort_store_upload(deps, record)
        return record.id

    return await retry_lost_races(attempt, attempts=SAVE_ATTEMPTS, give_up=gave_up)


async def abort_upload(deps: FileDeps, viewer: Principal, file_id: str) -> str:
    """Delete a PENDING file: its reservation, its share items and whatever parts or bytes
    the store received. A READY file is refused (deleteFile removes those)."""
    record = await changeable_file(deps, viewer, file_id)
    if record.status is not FileStatus.PENDING:
        raise InvalidInputError("Only an unfinished upload can be aborted; use deleteFile")
    # Conditioned on the version read: an upload completed meanwhile is not deleted.
    return await delete_file(deps, viewer, file_id, record.version)


def _deletion(record: FileRecord, links: list[ShareLink]) -> list[WriteOp]:
    # Links change the file's version, so those read here are all it has at that version.
    ops: list[WriteOp] = [file_items.delete_file(record)]
    ops += [file_items.delete_share(record.id, user_id) for user_id in record.shared_with]
    for link in links:
        ops += file_items.delete_share_link(link)
    ops.append(file_items.delete_owned_listing(record))
    return [*ops, *file_items.release(record)]


@dataclass(frozen=True, slots=True)
class _Cleaned:
    """Validated changes; None (or UNSET for description, which None clears) means keep."""

    name: str | None
    description: str | Unset | None
    tags: tuple[str, ...] | None
    visibility: Visibility | None


def _clean(changes: FileChanges) -> _Cleaned:
    # None leaves a name or visibility alone (neither can be empty) but clears the others.
    name, description, tags, visibility = (
        changes.name,
        changes.description,
        changes.tags,
        changes.visibility,
    )
    return _Cleaned(
        name=None if name is None or name is UNSET else clean_name(name),
        description=UNSET if description is UNSET else clean_description(description),
        tags=None if tags is UNSET else clean_tags(tags),
        visibility=None
        if visibility is None or visibility is UNSET
        else check_visibility(visibility),
    )


def _apply(record: FileRecord, cleaned: _Cleaned) -> FileRecord:
    return replace(
        record,
        name=record.name if cleaned.name is None else cleaned.name,
        description=record.description if cleaned.description is UNSET else cleaned.description,
        tags=record.tags if cleaned.tags is None else cleaned.tags,
        visibility=record.visibility if cleaned.visibility is None else cleaned.visibility,
    )
