"""Recount a user's usage from their files: the upgrade path from the older usage item.

The older code kept ``ready_bytes``, a ``pending`` map (file id -> [size, expires_at]) and a
``version`` on ``USER#<id>/USAGE``, and no reservation items. The current code reads that
item as zero usage, so existing bytes stop counting against the quota, and an old PENDING
upload, having no reservation, can be neither completed nor deleted (both release the
reservation on condition that it exists). A recount fixes both:

1. every unexpired PENDING file of the owner without a reservation gets one (its bytes
   added to the counters in the same write, conditioned on the file still being that
   PENDING version and the reservation still absent), and every reservation whose file is
   not an unexpired PENDING file of the owner (expired, completed, deleted; or a backup's
   stray) is released the way an expired upload is reclaimed;
2. then the usage item is replaced by one holding only ``used_bytes`` (READY sizes plus
   reservations) and ``pending_uploads`` (reservations): the old attributes are dropped.

Nearly safe while the server serves requests: every change to a usage item also adds 1 to
its ``version`` (items.py), and the replacement is conditioned on the version read before
the files and reservations were listed, so a usage change that commits in between makes it
fail and the recount starts over. But a request's usage change is a write of its own beside
the file's (deps.count_usage): a recount that reads between the two sees the file change
without its count, and can be off by that one file. Run it when the user is not uploading,
or run it twice.

Remaining window (DynamoDB only): the owner's files are listed through ``gsi1``, which
DynamoDB updates asynchronously; the listed metas and the reservations are then read
consistently. A PENDING file is never missed (its reservation names it), but a file both
created and completed within the index's lag (normally under a second) before the listing
can be: its bytes would not count until the next recount. Running it again fixes that.
The memory and SQLite stores update their index in the same transaction as the item.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass

from domain.clock import Clock
from domain.errors import ConflictError
from domain.files import items as file_items
from domain.files.quota import Reservation, Usage
from domain.models import FileRecord, FileStatus
from domain.ports import MAX_QUERY_LIMIT, Add, Item, ItemStore
from domain.retries import LOST_RACE, LostRace, retry_lost_races

RECOUNT_ATTEMPTS = 10


@dataclass(frozen=True, slots=True)
class RecountSummary:
    """What a recount of every owner's usage did, for the command that runs it to report."""

    owners: int
    used_bytes: int
    pending_uploads: int


async def recount_usage(items: ItemStore, owner_id: str, clock: Clock) -> Usage:
    """Rewrite ``owner_id``'s usage from their files; returns the usage written."""

    async def attempt(_: int) -> Usage | LostRace:
        [stored] = await items.get_many([file_items.usage_key(owner_id)])
        version = None if stored is None else _version_of(stored)
        if stored is not None and version is None:
            # Made by Adds before they counted versions: give it one to condition on.
            await items.write([Add(file_items.usage_key(owner_id), {"version": 1})])
            return LOST_RACE
        found = await _look(items, owner_id, clock)
        if found.missing or found.stray:
            await _repair(items, owner_id, found.missing, found.stray)
            return LOST_RACE  # counters changed: read everything again
        usage = found.usage
        replacement = file_items.put_recounted_usage(usage, version)
        if stored is None and usage == Usage(owner_id):
            return usage  # nothing stored reads as nothing used
        if stored is not None and _same_but_version(stored, replacement.item):
            return usage  # already right: a second run (or a restored new backup) writes nothing
        try:
            await items.write([replacement])
        except ConflictError:
            return LOST_RACE  # an upload, completion or deletion committed meanwhile
        return usage

    return await retry_lost_races(
        attempt,
        attempts=RECOUNT_ATTEMPTS,
        give_up=lambda: ConflictError(
            f"the usage of user {owner_id} kept changing while it was recounted; run again"
        ),
    )


async def counted_usage(items: ItemStore, owner_id: str, clock: Clock) -> Usage:
    """What ``owner_id``'s usage should hold, from their files; writes nothing (for checks
    such as the restore drill's)."""
    found = await _look(items, owner_id, clock)
    return Usage(
        owner_id,
        used_bytes=found.ready_bytes + sum(f.size for f in found.live.values()),
        pending_uploads=len(found.live),
    )


@dataclass(frozen=True, slots=True)
class _Found:
    """What the recount read of one owner's files and reservations, before deciding what to
    reserve, release and write."""

    owner_id: str
    ready_bytes: int
    reservations: list[Reservation]
    live: dict[str, FileRecord]  # unexpired PENDING files by id

    @property
    def missing(self) -> list[FileRecord]:
        """Live uploads without a reservation (made by the older code)."""
        reserved = {r.file_id for r in self.reservations}
        return [record for record in self.live.values() if record.id not in reserved]

    @property
    def stray(self) -> list[Reservation]:
        """Reservations of no live upload: expired, finished, or a backup's leftovers."""
        return [r for r in self.reservations if r.file_id not in self.live]

    @property
    def usage(self) -> Usage:
        return Usage(
            self.owner_id,
            used_bytes=self.ready_bytes + sum(r.size for r in self.reservations),
            pending_uploads=len(self.reservations),
        )


async def _look(items: ItemStore, owner_id: str, clock: Clock) -> _Found:
    reservations = await _reservations(items, owner_id)
    files = await _files(items, owner_id, {r.file_id for r in reservations})
    now = clock()
    return _Found(
        owner_id=owner_id,
        ready_bytes=sum(f.size for f in files if f.status is FileStatus.READY),
        reservations=reservations,
        live={f.id: f for f in files if f.status is FileStatus.PENDING and not f.is_expired(now)},
    )


async def recount_all_usage(items: ItemStore, clock: Clock) -> RecountSummary:
    """Recount every owner the store knows (profiles, usage items and file owners)."""
    owners = await usage_owners(items)
    used = pending = 0
    for owner_id in owners:
        usage = await recount_usage(items, owner_id, clock)
        used += usage.used_bytes
        pending += usage.pending_uploads
    return RecountSummary(len(owners), used, pending)


async def usage_owners(items: ItemStore) -> list[str]:
    """Every user who has, or had, a profile, a usage item or a file, in a stable order."""
    found: set[str] = set()
    async for page in items.scan():
        for item in page:
            owner_id = file_items.usage_owner_of(item)
            if owner_id is not None:
                found.add(owner_id)
    return sorted(found)


def _same_but_version(stored: Item, wanted: Item) -> bool:
    def without_version(item: Item) -> Item:
        return {name: value for name, value in item.items() if name != "version"}

    return without_version(stored) == without_version(wanted)


def _version_of(item: Item) -> int | None:
    version = item.get("version")
    return version if isinstance(version, int) and not isinstance(version, bool) else None


async def _reservations(items: ItemStore, owner_id: str) -> list[Reservation]:
    return [
        file_items.reservation_from_item(item)
        async for item in _all(items, file_items.reservation_partition(owner_id), None)
        if str(item.get("sk", "")).startswith(file_items.RESERVATION_PREFIX)
    ]


async def _files(items: ItemStore, owner_id: str, also: set[str]) -> list[FileRecord]:
    """The owner's file metas, read consistently: the ones the owner index lists plus the
    ones reservations name (which a lagging index may not list yet)."""
    listed = {
        str(item["id"]) async for item in _all(items, file_items.owner_partition(owner_id), "gsi1")
    }
    ids = sorted(listed | also)
    metas = await items.get_many([file_items.file_key(file_id) for file_id in ids])
    records = [file_items.file_from_item(item) for item in metas if item is not None]
    return [record for record in records if record.owner_id == owner_id]


async def _all(items: ItemStore, partition: str, index: str | None) -> AsyncIterator[Item]:
    after: str | None = None
    while True:
        page = await items.query(partition, index=index, after=after, limit=MAX_QUERY_LIMIT)
        for item in page.items:
            yield item
        if page.cursor is None:
            return
        after = page.cursor


async def _repair(
    items: ItemStore, owner_id: str, missing: list[FileRecord], stray: list[Reservation]
) -> None:
    """One small write per fix; a fix that loses a race is left to the next look."""
    fixes = [file_items.reserve_existing(record) for record in missing]
    fixes += [
        [file_items.reclaim(owner_id, r), file_items.reclaimed_usage(owner_id, r)] for r in stray
    ]
    for ops in fixes:
        try:
            await items.write(ops)
        except ConflictError:
            continue
