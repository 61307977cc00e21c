"""A local store's backup for the owner-mapping suites (`restore --map-users-by
username`): alice, bob and carol signed up with the dev IdP, their files and shares."""

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.identity.dev_idp import DevIdentityProvider
from adapters.identity.passwords import ScryptHasher
from domain.models import Principal, Visibility
from domain.ports import ItemStore, Put
from ops.backup.backup import run_backup
from ops.backup.targets import Target, open_target
from tests.support.backup import Stores, local_stores, upload

FAST_HASHER = ScryptHasher(n=2**8, r=8, p=1)
# name -> (owner, shared with); the bytes differ per file.
FILES = {
    "alpha-report.txt": ("alice", ("bob",)),
    "alpha-private.txt": ("alice", ()),
    "bravo-notes.txt": ("bob", ("alice", "carol")),
    "charlie-plan.txt": ("carol", ("alice",)),
}
PASSWORD = "correct horse battery"


@dataclass
class LocalBackup:
    dest: Path
    local_ids: dict[str, str]  # username -> the dev IdP's id
    sizes: dict[str, int]  # file name -> bytes


def dir_target(dest: Path) -> Target:
    return open_target(str(dest), lambda: pytest.fail("no S3 here"))


Extra = Callable[[Stores, dict[str, Principal]], Awaitable[None]]


def dev_idp(items: ItemStore, folder: Path) -> DevIdentityProvider:
    return DevIdentityProvider(
        items, folder / "idp.pem", "http://127.0.0.1:9/auth", "local", hasher=FAST_HASHER
    )


async def make_local_backup(
    folder: Path, *, old_bob: bool = False, extra: Extra | None = None
) -> LocalBackup:
    """alice, bob and carol signed up with the dev IdP, their files and shares, backed up.
    ``old_bob``: also the profile (and a file) of an earlier account named bob, as a
    store keeps after an identity was deleted and made again: two users of one name.
    ``extra``: more data, written before the backup."""
    sizes: dict[str, int] = {}
    async with local_stores(folder / "local") as stores:
        idp = dev_idp(stores.items, folder / "local")
        people: dict[str, Principal] = {}
        for name in ("alice", "bob", "carol"):
            registered = await idp.signup(name, PASSWORD, f"{name}@example.com")
            people[name] = Principal(registered.user_id, name, f"{name}@example.com")
            await stores.profiles.ensure_profile(people[name])
        for file_name, (owner, shared_with) in FILES.items():
            body = hashlib.sha256(file_name.encode()).digest() * (len(file_name) + 3)
            sizes[file_name] = len(body)
            file_id = await upload(
                stores, people[owner], body, name=file_name, visibility=Visibility.PRIVATE
            )
            for grantee in shared_with:
                await stores.files.share_file(people[owner], file_id, grantee)
        if old_bob:
            await stores.items.write([Put(_profile("bob-before", "bob"))])
            earlier = Principal("bob-before", "bob", None)
            await upload(
                stores,
                earlier,
                b"an earlier account's file",
                name="earlier-bob.txt",
                visibility=Visibility.PRIVATE,
            )
        if extra is not None:
            await extra(stores, people)
        dest = folder / "backup"
        await run_backup(stores.items, stores.blobs, dir_target(dest), source="local")
        return LocalBackup(dest, {n: p.user_id for n, p in people.items()}, sizes)


def _profile(user_id: str, username: str) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "pk": f"USER#{user_id}",
        "sk": "PROFILE",
        "type": "User",
        "id": user_id,
        "username": username,
        "display_name": None,
        "email": None,
        "groups": [],
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "signed_out_at": None,
    }
