"""The rules of `restore --map-users-by username` that need no AWS: the target here is
another local store, whose dev IdP holds the same usernames under other ids (a fresh
laptop's sign-ups), so the mapped restore runs local → local."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.identity.dev_idp import DevIdentityProvider
from api.cli import main
from domain.files.items import file_key, share_key
from domain.models import Principal
from domain.ports import Put
from domain.users import tombstone_key
from ops.backup.errors import BackupError
from ops.backup.owners import UnmappedItemError
from ops.backup.restore import journal_key, run_restore
from ops.backup.streams import closing
from tests.support.backup import Stores, local_stores, upload
from tests.support.local_backup import PASSWORD, dev_idp, dir_target, make_local_backup


@dataclass
class Target:
    stores: Stores
    idp: DevIdentityProvider
    ids: dict[str, str]  # username -> id in the target's dev IdP


@asynccontextmanager
async def target_with_users(folder: Path, *names: str) -> AsyncIterator[Target]:
    async with local_stores(folder) as stores:
        idp = dev_idp(stores.items, folder)
        ids = {name: (await idp.signup(name, PASSWORD)).user_id for name in names}
        yield Target(stores, idp, ids)


async def data_items(stores: Stores) -> list[dict[str, Any]]:
    """Every item but the target's own dev IdP users."""
    found: list[dict[str, Any]] = []
    async with closing(stores.items.scan()) as pages:
        async for page in pages:
            found.extend(i for i in page if not str(i["pk"]).startswith("IDP"))
    return found


async def test_an_item_that_would_keep_naming_a_backup_user_stops_before_any_write(
    tmp_path: Path,
) -> None:
    async def note(stores: Stores, people: dict[str, Principal]) -> None:
        # A shape the mapping does not know, naming alice in an attribute of its own.
        file_id = await upload(stores, people["bob"], b"bob's", name="with-note.txt")
        item = {"pk": file_key(file_id).pk, "sk": "NOTE#1", "by": people["alice"].user_id}
        await stores.items.write([Put(item)])

    backup = await make_local_backup(tmp_path, extra=note)
    async with target_with_users(tmp_path / "target", "alice", "bob", "carol") as target:
        with pytest.raises(UnmappedItemError, match="still names a user of the backup"):
            await run_restore(
                dir_target(backup.dest),
                target.stores.items,
                target.stores.blobs,
                map_users_to=target.idp,
            )
        assert await data_items(target.stores) == []


async def test_accounts_being_deleted_come_back_to_no_one(tmp_path: Path) -> None:
    async def delete_carol(stores: Stores, people: dict[str, Principal]) -> None:
        key, carol = tombstone_key(people["carol"].user_id), people["carol"].user_id
        tombstone = {"pk": key.pk, "sk": key.sk, "type": "AccountTombstone", "user_id": carol}
        await stores.items.write([Put({**tombstone, "username": "carol", "version": 1})])

    backup = await make_local_backup(tmp_path, extra=delete_carol)
    # carol is in the target (someone may hold the name now): her data still is not theirs.
    async with target_with_users(tmp_path / "target", "alice", "bob", "carol") as target:
        result = await run_restore(
            dir_target(backup.dest),
            target.stores.items,
            target.stores.blobs,
            map_users_to=target.idp,
        )

        assert result.deleted_users == 1 and result.users_left_out == ()
        items = await data_items(target.stores)
        files = {i["name"]: i for i in items if i.get("type") == "File"}
        assert set(files) == {"alpha-report.txt", "alpha-private.txt", "bravo-notes.txt"}
        assert files["bravo-notes.txt"]["shared_with"] == [target.ids["alice"]]
        assert {i["owner_id"] for i in files.values()} == {target.ids["alice"], target.ids["bob"]}
        assert not [i for i in items if i["pk"] == f"USER#{target.ids['carol']}"]
        assert not [i for i in items if i.get("type") == "AccountTombstone"]


async def test_a_share_of_a_file_the_backup_lacks_needs_no_user(tmp_path: Path) -> None:
    """A file deleted while the backup ran can leave its share behind (restore drops it):
    the user it names, unknown anywhere, is no reason to refuse."""

    async def stray_share(stores: Stores, people: dict[str, Principal]) -> None:
        key = share_key("gone-file", "someone-unknown")
        item = {"pk": key.pk, "sk": key.sk, "type": "FileShare", "file_id": "gone-file"}
        await stores.items.write([Put({**item, "user_id": "someone-unknown"})])

    backup = await make_local_backup(tmp_path, extra=stray_share)
    async with target_with_users(tmp_path / "target", "alice", "bob", "carol") as target:
        result = await run_restore(
            dir_target(backup.dest),
            target.stores.items,
            target.stores.blobs,
            map_users_to=target.idp,
        )
        assert result.users_mapped == 3 and result.users_left_out == ()
        items = await data_items(target.stores)
        assert not [i for i in items if i.get("file_id") == "gone-file"]


async def test_a_resumed_restore_keeps_the_mapping_it_began_with(tmp_path: Path) -> None:
    backup = await make_local_backup(tmp_path)
    async with target_with_users(tmp_path / "target", "alice", "bob", "carol") as target:
        # A restore that stopped after writing its journal, begun without a mapping.
        [journal_id] = [p.name for p in (backup.dest / "backups").iterdir()]
        key = journal_key(journal_id)
        journal = {"pk": key.pk, "sk": key.sk, "parts": [], "indexed": True, "user_map": None}
        await target.stores.items.write([Put(journal)])

        with pytest.raises(BackupError, match="another mapping of users"):
            await run_restore(
                dir_target(backup.dest),
                target.stores.items,
                target.stores.blobs,
                map_users_to=target.idp,
            )
        assert await data_items(target.stores) == [journal]


def test_the_command_maps_onto_the_local_sign_ins_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = asyncio.run(make_local_backup(tmp_path))
    monkeypatch.delenv("DEMOBACKEND_BACKUP_ENCRYPTION_KEY", raising=False)
    monkeypatch.setenv("DEMOBACKEND_DATA_DIR", str(tmp_path / "fresh"))
    for name in ("alice", "bob"):  # a fresh laptop's sign-ups: other ids, no carol
        assert main(["token", name]) == 0
    capsys.readouterr()

    assert main(["restore", str(backup.dest), "--map-users-by", "username"]) == 1
    assert "'carol' (no user of exactly this name" in capsys.readouterr().err

    code = main(["restore", str(backup.dest), "--map-users-by", "username", "--skip-unmapped"])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 user(s) mapped by username onto the target's users" in out
    assert "left out user 'carol'" in out

    async def owners() -> set[str]:
        async with local_stores(tmp_path / "fresh") as stores:
            items = await data_items(stores)
            return {f"{i['name']}:{i['owner_id']}" for i in items if i.get("type") == "File"}

    async def ids() -> dict[str, str]:
        async with local_stores(tmp_path / "fresh") as stores:
            idp = dev_idp(stores.items, tmp_path / "fresh")
            return {n: (await idp.find_users_by_username(n))[0].user_id for n in ("alice", "bob")}

    new = asyncio.run(ids())
    assert new["alice"] != backup.local_ids["alice"]
    assert asyncio.run(owners()) == {
        f"alpha-report.txt:{new['alice']}",
        f"alpha-private.txt:{new['alice']}",
        f"bravo-notes.txt:{new['bob']}",
    }
