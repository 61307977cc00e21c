"""Sharing a file with other users by username. Who a file is shared with lives twice: on
the meta item (one read answers "may this user read it?" and File.sharedWith) and as one
share item per user, with its listing item (read by "shared with me"); all change in one
atomic write."""

from dataclasses import replace
from datetime import datetime

from domain.clock import to_iso
from domain.errors import InvalidInputError
from domain.files import items as file_items
from domain.files.deps import SAVE_ATTEMPTS, FileDeps, changeable_file, gave_up, index_for_search
from domain.files.events import FileEventKind, publish
from domain.models import FileRecord, Principal
from domain.ports import WriteOp
from domain.retries import LOST_RACE, LostRace, retry_lost_races, won

# Longer than any username a sign-up accepts; longer input cannot name a user.
_USERNAME_MAX_CHARS = 256


async def share_file(deps: FileDeps, viewer: Principal, file_id: str, username: str) -> FileRecord:
    """Idempotent: sharing again with the same user changes nothing."""
    # The file first: someone who may not change it learns nothing about the username.
    record = await changeable_file(deps, viewer, file_id)
    user_id = await _user_id(deps, username)
    if user_id == viewer.user_id:
        raise InvalidInputError("You cannot share a file with yourself")
    if user_id == record.owner_id:
        raise InvalidInputError("The owner of a file already has access to it")
    first_read = record

    async def attempt(n: int) -> FileRecord | LostRace:
        record = await changeable_file(deps, viewer, file_id) if n else first_read
        if user_id in record.shared_with:
            return record
        if len(record.shared_with) >= deps.limits.max_shares_per_file:
            raise InvalidInputError(
                f"A file can be shared with at most {deps.limits.max_shares_per_file} users"
            )
        now = deps.clock()
        saved = _next(record, (*record.shared_with, user_id), now)
        shared_at = to_iso(now)
        share_ops = (
            file_items.put_share(saved, user_id, shared_at),
            file_items.put_shared_listing(saved.id, user_id, shared_at),
        )
        if not await won(_save(deps, record, saved, *share_ops)):
            return LOST_RACE
        await index_for_search(deps, saved.id)  # search postings are partitioned by access
        await publish(deps, FileEventKind.SHARED, saved, user_id)
        return saved

    return await retry_lost_races(attempt, attempts=SAVE_ATTEMPTS, give_up=gave_up)


async def unshare_file(
    deps: FileDeps, viewer: Principal, file_id: str, username: str
) -> FileRecord:
    """Idempotent: unsharing a user the file is not shared with changes nothing."""
    record = await changeable_file(deps, viewer, file_id)
    user_id = await _user_id(deps, username)
    first_read = record

    async def attempt(n: int) -> FileRecord | LostRace:
        record = await changeable_file(deps, viewer, file_id) if n else first_read
        if user_id not in record.shared_with:
            return record
        remaining = tuple(uid for uid in record.shared_with if uid != user_id)
        saved = _next(record, remaining, deps.clock())
        ops: list[WriteOp] = [file_items.delete_share(record.id, user_id)]
        shared_at = (await deps.files.share_times(record.id)).get(user_id)
        if shared_at is not None:
            ops.append(file_items.delete_shared_listing(record.id, user_id, shared_at))
        if not await won(_save(deps, record, saved, *ops)):
            return LOST_RACE
        await index_for_search(deps, saved.id)
        await publish(deps, FileEventKind.UNSHARED, saved, user_id)
        return saved

    return await retry_lost_races(attempt, attempts=SAVE_ATTEMPTS, give_up=gave_up)


def _next(record: FileRecord, shared_with: tuple[str, ...], now: datetime) -> FileRecord:
    return replace(record, shared_with=shared_with, version=record.version + 1, updated_at=now)


async def _save(deps: FileDeps, before: FileRecord, after: FileRecord, *share_ops: WriteOp) -> None:
    await deps.files.write([file_items.put_file_over(after, before.version), *share_ops])


async def _user_id(deps: FileDeps, username: str) -> str:
    valid = isinstance(username, str) and 0 < len(username) <= _USERNAME_MAX_CHARS
    user_id = await deps.users.id_for_username(username) if valid and _storable(username) else None
    if user_id is None:
        raise InvalidInputError(f"There is no user named {username!r}")
    return user_id


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
