"""Deleting an account: a tombstone first, then a purge that any later run can finish.

The tombstone (``USER#<id>`` / ``TOMBSTONE``) is written before anything is removed. From
that moment every token of the account is refused (the profile check reads it in the same
batch as the profile), and while its state is PURGING it sits in the ``ACCOUNT_PURGES``
partition of gsi1, where ``demobackend purge-accounts`` finds deletions a crash
interrupted. Every step below is idempotent, so a purge simply starts over:

Files are found through the user's listing items (domain/files/items.py), read from the
table: an index could miss a file uploaded or shared a moment before.

1. each file the user owns goes through the files feature's own deletion (meta and share
   items in one atomic write, quota released, search entry removed, then the bytes), so
   each file leaves every other user's ``sharedWithMe`` and search at one instant;
2. each file shared with the user is unshared (the owner's file stays);
3. the rest of the user's partition (usage, reservations, profile), the username claim
   and the user's search entry;
4. the identity (dev IdP credentials, or the Cognito user);
5. the tombstone's state becomes DONE. The tombstone itself stays: it keeps the account's
   remaining tokens refused until they expire (a few hundred bytes per deleted account).

Other users see the account shrink file by file, then vanish; never a file that is half
gone, and never a profile whose files are listed without it.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from domain.access import may_delete_account
from domain.clock import Clock, to_iso
from domain.errors import ForbiddenError, InvalidInputError, NotFoundError
from domain.files import FileService
from domain.files import items as file_items
from domain.models import ADMIN_GROUP, Principal
from domain.ports import BlobStore, Delete, IdentityAccounts, Item, ItemStore, Key, Put
from domain.users import UserRepository, tombstone_key, username_key

logger = logging.getLogger(__name__)

PURGES_PARTITION = "ACCOUNT_PURGES"
PURGING, DONE = "PURGING", "DONE"
_PAGE = 100
_JOURNAL_PREFIX = "PURGE#"


@dataclass(frozen=True, slots=True)
class Tombstone:
    """What the tombstone item says of a deleted account: enough for a later run to finish
    the purge (and to refuse the account's tokens) without the profile."""

    user_id: str
    username: str
    state: str


def _purger(tombstone: Tombstone) -> Principal:
    # The purge acts with an admin's rights on the deleted user's behalf: it must unshare
    # files other users own, and it runs without a caller when resumed by the command.
    return Principal(user_id=tombstone.user_id, username=tombstone.username, groups=(ADMIN_GROUP,))


class AccountDeletion:
    def __init__(
        self,
        items: ItemStore,
        blobs: BlobStore,
        users: UserRepository,
        files: FileService,
        identity: IdentityAccounts,
        clock: Clock,
    ) -> None:
        self._items = items
        self._blobs = blobs
        self._users = users
        self._files = files
        self._identity = identity
        self._clock = clock

    async def delete_account(self, viewer: Principal, confirm: str, user_id: str) -> str:
        """Start (or resume) deleting ``user_id`` and purge it now; the deleted id."""
        await self.purge(await self.start(viewer, confirm, user_id))
        return user_id

    async def start(self, viewer: Principal, confirm: str, user_id: str) -> Tombstone:
        """Check the request and write the tombstone (or find it): the point of no return."""
        if not may_delete_account(viewer, user_id):
            raise ForbiddenError("You may only delete your own account")
        existing = await self._tombstone(user_id)
        if existing is None:
            user = await self._users.get(user_id)
            if user is None:
                raise NotFoundError("User not found")
            _check_confirm(confirm, user.username)
            existing = await self._start(user_id, user.username, viewer)
        _check_confirm(confirm, existing.username)
        return existing

    async def _start(self, user_id: str, username: str, viewer: Principal) -> Tombstone:
        key = tombstone_key(user_id)
        now = to_iso(self._clock())
        item: Item = {
            "pk": key.pk,
            "sk": key.sk,
            "type": "AccountTombstone",
            "user_id": user_id,
            "username": username,
            "state": PURGING,
            "requested_by": viewer.user_id,
            "started_at": now,
            "gsi1pk": PURGES_PARTITION,
            "gsi1sk": f"{now}#{user_id}",
            "version": 1,
        }
        # Unconditional: two concurrent requests write the same intent.
        await self._items.write([Put(item)])
        logger.info("account deletion started")
        return Tombstone(user_id, username, PURGING)

    async def _tombstone(self, user_id: str) -> Tombstone | None:
        [item] = await self._items.get_many([tombstone_key(user_id)])
        return None if item is None else _from_item(item)

    async def pending(self) -> list[Tombstone]:
        """Deletions started and not finished (a crash, a timeout): for the purge command."""
        found: list[Tombstone] = []
        after = None
        while True:
            page = await self._items.query(PURGES_PARTITION, index="gsi1", after=after, limit=_PAGE)
            found += [_from_item(item) for item in page.items]
            if page.cursor is None:
                return found
            after = page.cursor

    async def purge(self, tombstone: Tombstone) -> None:
        if tombstone.state == DONE:
            return
        purger = _purger(tombstone)
        await self._settle_journal(tombstone.user_id)
        # The listing items, read from the table: a drain of gsi1 could miss a file uploaded
        # or shared a moment ago (DynamoDB cannot read a global index consistently).
        await self._drain(file_items.owned_partition(tombstone.user_id), self._owned(purger))
        await self._drain(
            file_items.shared_listing_partition(tombstone.user_id), self._incoming(purger)
        )
        await self._remove_user_items(tombstone)
        await self._identity.delete_identity(tombstone.username)
        await self._finish(tombstone)
        logger.info("account deletion finished")

    async def _drain(self, partition: str, remove: Callable[[Item], Awaitable[None]]) -> None:
        # Each removal takes its item out of the partition (or raises), so the first page
        # is always what is left.
        while True:
            page = await self._items.query(partition, limit=_PAGE)
            if not page.items:
                return
            for item in page.items:
                await remove(item)

    # A journal entry names each file the purge is about to touch, written before and
    # removed after: a crash between the metadata write and the search update (or the
    # bytes) leaves the entry, and the next run re-syncs that file's search entry and
    # removes its bytes. Without it the file would be unreachable and its postings and
    # bytes left behind for good.

    async def _journal(self, user_id: str, file_id: str, blob_key: str | None) -> Key:
        """``blob_key``: the bytes to remove (owned files), None for a file shared with
        the user."""
        key = Key(f"USER#{user_id}", f"{_JOURNAL_PREFIX}{file_id}")
        entry = {"pk": key.pk, "sk": key.sk, "file_id": file_id, "blob_key": blob_key}
        await self._items.write([Put(entry)])
        return key

    async def _settle(self, key: Key, file_id: str, blob_key: str | None) -> None:
        await self._files.index_for_search(file_id)  # removed if gone, else re-synced
        if blob_key is not None:
            # The file's bytes, and its upload key in case the upload never completed.
            for stored in dict.fromkeys([blob_key, file_items.blob_key_for(file_id)]):
                await self._blobs.delete(stored)  # idempotent
        await self._items.write([Delete(key)])

    async def _settle_journal(self, user_id: str) -> None:
        while True:
            page = await self._items.query(f"USER#{user_id}", prefix=_JOURNAL_PREFIX, limit=_PAGE)
            for entry in page.items:
                blob_key = entry.get("blob_key")
                await self._settle(_key_of(entry), str(entry["file_id"]), blob_key)
            if page.cursor is None:
                return

    def _owned(self, purger: Principal) -> Callable[[Item], Awaitable[None]]:
        async def remove(listing: Item) -> None:
            file_id = file_items.shared_file_id(listing)
            [meta] = await self._items.get_many([file_items.file_key(file_id)])
            if meta is None:
                # The listing item outlived its file (an abandoned upload's TTL took it).
                upload_key = file_items.blob_key_for(file_id)
                journal = await self._journal(purger.user_id, file_id, upload_key)
                await self._items.write([Delete(_key_of(listing))])
                await self._settle(journal, file_id, upload_key)
                return
            record = file_items.file_from_item(meta)
            journal = await self._journal(purger.user_id, record.id, record.blob_key)
            try:
                await self._files.delete_file(purger, record.id)
            except NotFoundError:
                # An expired PENDING upload reads as missing; its items go all the same.
                ops = [file_items.delete_file(record), Delete(_key_of(listing))]
                ops += [file_items.delete_share(record.id, uid) for uid in record.shared_with]
                await self._items.write(ops)
            await self._settle(journal, record.id, record.blob_key)

        return remove

    def _incoming(self, purger: Principal) -> Callable[[Item], Awaitable[None]]:
        async def remove(listing: Item) -> None:
            file_id = file_items.shared_file_id(listing)
            journal = await self._journal(purger.user_id, file_id, None)
            try:
                # Through the files feature: the owner's file and its search entry follow.
                await self._files.unshare_file(purger, file_id, purger.username)
            except (NotFoundError, InvalidInputError):
                pass  # the file is gone, or the username claim already is
            # Whatever unshare_file found, the grant itself goes, and its listing item.
            grant = file_items.share_key(file_id, purger.user_id)
            await self._items.write([Delete(grant), Delete(_key_of(listing))])
            await self._settle(journal, file_id, None)

        return remove

    async def _remove_user_items(self, tombstone: Tombstone) -> None:
        partition = f"USER#{tombstone.user_id}"
        while True:
            page = await self._items.query(partition, limit=_PAGE)
            doomed = [i for i in page.items if i["sk"] != tombstone_key(tombstone.user_id).sk]
            if not doomed:
                break
            for item in doomed:
                if isinstance(item.get("blob_key"), str):  # a data export's archive
                    await self._blobs.delete(item["blob_key"])
            await self._items.write([Delete(_key_of(item)) for item in doomed])
        await self._items.write([Delete(username_key(tombstone.username))])
        await self._users.index_for_search(tombstone.user_id)  # no profile: entry removed

    async def _finish(self, tombstone: Tombstone) -> None:
        [item] = await self._items.get_many([tombstone_key(tombstone.user_id)])
        if item is None:
            return
        done = {k: v for k, v in item.items() if k not in ("gsi1pk", "gsi1sk")}
        done |= {"state": DONE, "finished_at": to_iso(self._clock())}
        await self._items.write([Put(done)])


def _check_confirm(confirm: str, username: str) -> None:
    # Exact, letter case included: the point is that the caller typed it deliberately.
    if confirm != username:
        raise InvalidInputError("confirm must equal the username of the account being deleted")


def _key_of(item: Item) -> Key:
    return Key(item["pk"], item["sk"])


def _from_item(item: Item) -> Tombstone:
    return Tombstone(str(item["user_id"]), str(item["username"]), str(item["state"]))
