"""Restoring a backup onto another identity provider's users (`restore --map-users-by
username`): a team that prototyped locally moves its data to Cognito, whose users carry
other ids (``sub``) than the dev IdP gave them.

A user id appears in these items (domain/files/items.py, domain/users.py,
domain/accounts/); every one is rewritten, or the item left out:

    file meta      owner_id, gsi1pk OWNER#<id>, shared_with [<id>, ...]
    share          sk SHARE#<id>, user_id, gsi1pk SHAREDWITH#<id>
    USER#<id>/…    profile (id, username), usage (owner_id), reservations, tombstone,
                   data export, account-deletion journal
    username claim USERNAME#<username> (user_id)

Search postings are not in a backup: restore indexes the rewritten metadata, so owner
scopes follow the new ids. Share links and their token items name only their file.

Rules, so that no file is ever given to the wrong user:
- A user's username comes from the backup itself (their profile, their dev IdP
  credentials, or their account tombstone); the target provider must hold a user of
  exactly that name (letter case included). No name, no such user, several such users,
  two of the backup's users onto one target user, or one user under two names: unmapped.
- The whole mapping is made and checked before anything is written. Unmapped users make
  the restore refuse, listing them, unless told to skip them: then their files, their
  shares (to and from them) and their profile stay out, and the summary lists them.
- Users whose account deletion had begun (a tombstone) stay out: their data must come back
  to no one.
- The dev IdP's own items (credentials, refresh tokens) stay out: identities belong to the
  target's provider, where the users already are.
- After rewriting, an item that still names a user of the backup (an item shape this
  module does not know) stops the restore rather than pass through.
"""

import asyncio
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from domain.files.items import owner_partition, shared_with_partition
from domain.ports import IdentityAccounts, IdentityUser, Item
from domain.users import username_key
from ops.backup import selection
from ops.backup.errors import BackupError

MAP_BY_USERNAME = "username"
# Dev IdP items (adapters/identity/dev_idp.py): credentials, refresh tokens, their families.
IDENTITY_PREFIXES = ("IDP#", "IDPRT#", "IDPRF#")
USERNAME_PREFIX = "USERNAME#"
CREDENTIALS_SK = "CREDENTIALS"
LOOKUP_CONCURRENCY = 8
# Attributes users write themselves: never a user id by construction.
_FREE_TEXT = frozenset({"name", "description", "tags", "display_name", "email", "content_type"})


class UnmappedUsersError(BackupError):
    """Users of the backup have no (single) user in the target's identity provider."""

    def __init__(self, unmapped: list["Unmapped"]) -> None:
        self.unmapped = unmapped
        listed = "; ".join(user.describe() for user in unmapped)
        super().__init__(
            f"{len(unmapped)} user(s) of the backup cannot be mapped by username, nothing was "
            f"restored: {listed}. Create them in the target's identity provider, or pass "
            "--skip-unmapped to leave out their files and shares"
        )


class UnmappedItemError(BackupError):
    """A rewritten item still names a user of the backup: refuse rather than guess."""


@dataclass(frozen=True)
class Unmapped:
    user_id: str  # in the backup
    username: str | None  # in the backup, when it holds one
    reason: str

    def describe(self) -> str:
        name = repr(self.username) if self.username is not None else f"id {self.user_id}"
        return f"{name} ({self.reason})"


@dataclass
class UserCensus:
    """What the first pass over a backup learns: who its items name, and by what names."""

    users: set[str] = field(default_factory=set)  # of USER#<id> partitions
    names: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    deleted: set[str] = field(default_factory=set)
    file_owners: dict[str, str] = field(default_factory=dict)
    grantees: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def needed(self) -> set[str]:
        """The users whose data is restored unless they are left out: every user's own
        partition, and the owner and grantees of every file whose metadata is there (a
        share of a file the backup lacks, or of a deleted account's file, needs no one)."""
        needed = set(self.users)
        for file_id, owner in self.file_owners.items():
            if owner not in self.deleted:
                needed.add(owner)
                needed.update(self.grantees.get(file_id, ()))
        return needed - self.deleted

    def add(self, item: Item) -> None:
        pk, sk = str(item.get("pk", "")), str(item.get("sk", ""))
        if pk.startswith(IDENTITY_PREFIXES):
            if sk == CREDENTIALS_SK and _text(item.get("user_id")) and _text(item.get("username")):
                self.names[item["user_id"]].add(item["username"])
            return
        if pk.startswith(USERNAME_PREFIX):
            return  # a claim follows its profile
        file_id = selection.file_id_of(item)
        if selection.is_file_meta(item) and file_id is not None:
            self.file_owners[file_id] = str(item["owner_id"])
            if shared_with := item.get("shared_with"):
                self.grantees[file_id].update(str(uid) for uid in shared_with)
        elif item.get("type") == "FileShare" and file_id is not None:
            self.grantees[file_id].add(str(item["user_id"]))
        elif pk.startswith(selection.USER_PREFIX):
            user_id = pk[len(selection.USER_PREFIX) :]
            self.users.add(user_id)
            if sk in ("PROFILE", "TOMBSTONE") and _text(item.get("username")):
                self.names[user_id].add(item["username"])
            if sk == "TOMBSTONE":
                self.deleted.add(user_id)


@dataclass(frozen=True)
class UserMap:
    targets: dict[str, IdentityUser]  # backup's user id -> the target provider's user
    unmapped: list[Unmapped]
    deleted: frozenset[str]  # accounts being deleted in the backup: left out

    def digest(self) -> str:
        """Names this mapping, so a resumed restore can check it is still the same one."""
        body = {
            "targets": {src: [t.username, t.user_id] for src, t in sorted(self.targets.items())},
            "left_out": sorted([u.user_id for u in self.unmapped] + list(self.deleted)),
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


async def map_users(census: UserCensus, identity: IdentityAccounts) -> UserMap:
    """Every user the backup's data names, looked up by username in ``identity``."""
    wanted = sorted(census.needed())
    unmapped: list[Unmapped] = []
    named: dict[str, str] = {}
    for user_id in wanted:
        names = census.names.get(user_id) or set()
        if not names:
            unmapped.append(Unmapped(user_id, None, "the backup holds no username for this id"))
        elif len(names) > 1:
            unmapped.append(
                Unmapped(user_id, min(names), f"the backup names this user {sorted(names)}")
            )
        else:
            named[user_id] = next(iter(names))
    found = await _look_up(identity, set(named.values()))
    candidates: dict[str, IdentityUser] = {}
    for user_id, username in named.items():
        hits = found[username]
        if not hits:
            reason = "no user of exactly this name in the target's identity provider"
            unmapped.append(Unmapped(user_id, username, reason))
        elif len({hit.user_id for hit in hits}) > 1:
            reason = f"{len(hits)} users of this name in the target's identity provider"
            unmapped.append(Unmapped(user_id, username, reason))
        else:
            candidates[user_id] = hits[0]
    # Two of the backup's users onto one target user would merge two people: neither goes.
    by_target: dict[str, list[str]] = defaultdict(list)
    for user_id, target in candidates.items():
        by_target[target.user_id].append(user_id)
    targets: dict[str, IdentityUser] = {}
    for user_id, target in candidates.items():
        if len(by_target[target.user_id]) > 1:
            reason = (
                f"{len(by_target[target.user_id])} users of the backup map onto the same "
                "target user"
            )
            unmapped.append(Unmapped(user_id, named[user_id], reason))
        else:
            targets[user_id] = target
    unmapped.sort(key=lambda u: (u.username or "", u.user_id))
    return UserMap(targets, unmapped, frozenset(census.deleted))


async def _look_up(
    identity: IdentityAccounts, usernames: set[str]
) -> dict[str, list[IdentityUser]]:
    gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

    async def one(username: str) -> tuple[str, list[IdentityUser]]:
        async with gate:
            hits = await identity.find_users_by_username(username)
        # The port promises exact names; checked again, as a wrong hit would be costly.
        return username, [hit for hit in hits if hit.username == username]

    return dict(await asyncio.gather(*(one(name) for name in sorted(usernames))))


class OwnerRewriter:
    """Rewrites a backup's items for the target's user ids; None: the item stays out."""

    def __init__(self, user_map: UserMap, file_owners: dict[str, str]) -> None:
        self._ids = {src: t.user_id for src, t in user_map.targets.items()}
        self._names = {src: t.username for src, t in user_map.targets.items()}
        self.dropped_files = {f for f, owner in file_owners.items() if owner not in self._ids}
        # What no rewritten item may still name: every backup id that is not also a target id.
        self._stale = (
            {src for src, dst in self._ids.items() if src != dst}
            | {u.user_id for u in user_map.unmapped}
            | set(user_map.deleted)
        ) - set(self._ids.values())

    def keeps_file(self, file_id: str) -> bool:
        return file_id not in self.dropped_files

    def rewrite(self, item: Item) -> Item | None:
        rewritten = self._rewrite(item)
        if rewritten is not None and self._stale and self._names_stale(rewritten):
            raise UnmappedItemError(
                f"an item ({_kind(item)}) still names a user of the backup after mapping; "
                "nothing of it was written"
            )
        return rewritten

    def _rewrite(self, item: Item) -> Item | None:
        pk, sk = str(item.get("pk", "")), str(item.get("sk", ""))
        if pk.startswith(IDENTITY_PREFIXES):
            return None
        file_id = selection.file_id_of(item)
        if file_id is not None and file_id in self.dropped_files:
            return None
        if pk.startswith(USERNAME_PREFIX):
            return self._claim(item)
        if selection.is_file_meta(item):
            return self._file(item)
        if item.get("type") == "FileShare":
            return self._share(item)
        if pk.startswith(selection.USER_PREFIX):
            return self._user_item(item, pk[len(selection.USER_PREFIX) :], sk)
        return item

    def _file(self, item: Item) -> Item:
        owner = self._ids[str(item["owner_id"])]
        shared = [self._ids[uid] for uid in item.get("shared_with") or () if uid in self._ids]
        return {**item, "owner_id": owner, "gsi1pk": owner_partition(owner), "shared_with": shared}

    def _share(self, item: Item) -> Item | None:
        user_id = self._ids.get(str(item["user_id"]))
        if user_id is None:
            return None
        return {
            **item,
            "sk": f"SHARE#{user_id}",
            "user_id": user_id,
            "gsi1pk": shared_with_partition(user_id),
        }

    def _claim(self, item: Item) -> Item | None:
        source = str(item.get("user_id"))
        if source not in self._ids:
            return None
        key = username_key(self._names[source])
        return {**item, "pk": key.pk, "sk": key.sk, "user_id": self._ids[source]}

    def _user_item(self, item: Item, source: str, sk: str) -> Item | None:
        user_id = self._ids.get(source)
        # A data export's archive is not in the backup (and names the old account).
        if user_id is None or item.get("type") == "DataExport":
            return None
        out = {**item, "pk": f"{selection.USER_PREFIX}{user_id}"}
        if sk == "PROFILE":
            out.update(id=user_id, username=self._names[source])
        if "owner_id" in out:
            out["owner_id"] = user_id
        return out

    def _names_stale(self, item: Item) -> bool:
        for name, value in item.items():
            if name in _FREE_TEXT:
                continue  # what users typed may hold anything, their ids included
            for text in value if isinstance(value, list) else (value,):
                if isinstance(text, str) and (
                    text in self._stale or text.rpartition("#")[2] in self._stale
                ):
                    return True
        return False


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _kind(item: Item) -> str:
    return str(item.get("type") or str(item.get("pk", "")).partition("#")[0])
