"""A team that prototyped locally moves its data to AWS: a backup of the local store (dev
IdP users) restored into DynamoDB + S3 with `--map-users-by username`, onto the Cognito
users of the same usernames, whose ids (``sub``) differ. Checked as the users see it,
signed in with Cognito tokens through the AWS composition: their files, what is shared
with them, what search finds, and the usage their quota counts."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from api.cli import main
from domain.files.items import usage_key
from ops.backup.owners import UnmappedUsersError
from ops.backup.restore import run_restore
from ops.backup.streams import closing
from tests.support.aws_app import aws_stack
from tests.support.aws_stores import shared_clients
from tests.support.local_backup import FILES, LocalBackup, dir_target, make_local_backup
from tests.support.moto_server import REGION
from tests.support.rest import Rest, open_rest


@asynccontextmanager
async def aws_with_users(folder: Path, *usernames: str) -> AsyncIterator[Rest]:
    """The AWS composition on moto, its Cognito pool holding ``usernames`` (new subs)."""
    async with open_rest(folder / "aws", backend="aws") as rest:
        for name in usernames:
            await rest.token(name)  # creates the Cognito user
        yield rest


async def restore_mapped(backup: LocalBackup, rest: Rest, **options: Any) -> Any:
    return await run_restore(
        dir_target(backup.dest),
        rest.deps.items,
        rest.deps.blobs,
        concurrency=1,  # moto's TransactWriteItems is not thread-safe
        map_users_to=rest.deps.identity,
        **options,
    )


async def all_items(rest: Rest) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    async with closing(rest.deps.items.scan()) as pages:
        async for page in pages:
            found.extend(page)
    return found


async def cognito_sub(rest: Rest, username: str) -> str:
    assert rest.deps.identity is not None
    [user] = await rest.deps.identity.find_users_by_username(username)
    return user.user_id


FILE_FIELDS = "name owner { username } sharedWith { username }"


async def view_of(rest: Rest, username: str) -> dict[str, Any]:
    """What ``username`` sees, signed in with a Cognito token."""
    auth = await rest.auth(username)
    data = (
        await rest.graphql(
            auth,
            f"""{{
              me {{ username }}
              myFiles(first: 50) {{ edges {{ node {{ {FILE_FIELDS} }} }} }}
              sharedWithMe(first: 50) {{ edges {{ node {{ {FILE_FIELDS} }} }} }}
            }}""",
        )
    )["data"]
    return {
        "me": data["me"]["username"],
        "mine": _by_name(data["myFiles"]),
        "shared": _by_name(data["sharedWithMe"]),
    }


def _by_name(connection: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    return {
        edge["node"]["name"]: (
            edge["node"]["owner"]["username"],
            sorted(user["username"] for user in edge["node"]["sharedWith"]),
        )
        for edge in connection["edges"]
    }


async def search_names(rest: Rest, username: str, query: str) -> set[str]:
    answer = await rest.graphql(
        await rest.auth(username),
        """query($q: String!) { search(query: $q, types: [FILE]) {
             edges { node { ... on File { name owner { username } } } } } }""",
        {"q": query},
    )
    return {
        f"{edge['node']['name']}/{edge['node']['owner']['username']}"
        for edge in answer["data"]["search"]["edges"]
    }


def _names_any(items: list[dict[str, Any]], ids: set[str]) -> list[str]:
    """Keys of items with an attribute naming one of ``ids`` (whole value, or after '#')."""
    hits = []
    for item in items:
        for value in item.values():
            for text in value if isinstance(value, list) else (value,):
                if isinstance(text, str) and (text in ids or text.rpartition("#")[2] in ids):
                    hits.append(f"{item['pk']}/{item['sk']}")
    return hits


async def test_files_shares_search_and_usage_follow_the_username(tmp_path: Path) -> None:
    backup = await make_local_backup(tmp_path)
    async with aws_with_users(tmp_path, "alice", "bob", "carol") as rest:
        subs = {name: await cognito_sub(rest, name) for name in ("alice", "bob", "carol")}
        assert not set(subs.values()) & set(backup.local_ids.values())  # really other ids

        result = await restore_mapped(backup, rest)

        assert result.users_mapped == 3 and result.users_left_out == ()
        alice, bob, carol = [await view_of(rest, n) for n in ("alice", "bob", "carol")]
        assert alice == {
            "me": "alice",
            "mine": {
                "alpha-report.txt": ("alice", ["bob"]),
                "alpha-private.txt": ("alice", []),
            },
            # Who else a file is shared with is its owner's to see.
            "shared": {"bravo-notes.txt": ("bob", []), "charlie-plan.txt": ("carol", [])},
        }
        assert bob["mine"] == {"bravo-notes.txt": ("bob", ["alice", "carol"])}
        assert bob["shared"] == {"alpha-report.txt": ("alice", [])}
        assert carol["mine"] == {"charlie-plan.txt": ("carol", ["alice"])}
        assert carol["shared"] == {"bravo-notes.txt": ("bob", [])}
        # Search: owner scopes follow the new ids; a private file stays its owner's.
        assert await search_names(rest, "bob", "alpha") == {"alpha-report.txt/alice"}
        assert await search_names(rest, "alice", "alpha") == {
            "alpha-report.txt/alice",
            "alpha-private.txt/alice",
        }
        assert await search_names(rest, "carol", "charlie") == {"charlie-plan.txt/carol"}
        # Usage (what the quota counts) is the new ids', and the old ids are gone entirely.
        [usage] = await rest.deps.items.get_many([usage_key(subs["alice"])])
        assert usage is not None
        assert usage["used_bytes"] == sum(
            size for name, size in backup.sizes.items() if FILES[name][0] == "alice"
        )
        items = await all_items(rest)
        assert _names_any(items, set(backup.local_ids.values())) == []
        assert not [i for i in items if str(i["pk"]).startswith(("IDP#", "IDPRT#", "IDPRF#"))]


def test_unmapped_users_are_listed_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the command, as an operator runs it against the AWS settings."""
    backup = asyncio.run(make_local_backup(tmp_path))
    with aws_stack() as app:
        # carol is missing, and "Bob" is not bob: a near name is never taken for the user.
        app.token("alice")
        app.token("Bob")
        for name, value in app.stack.settings_env(app.endpoint, REGION).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("DEMOBACKEND_DATA_DIR", str(tmp_path / "aws"))
        capsys.readouterr()

        code = main(["restore", str(backup.dest), "--map-users-by", "username"])

        err = capsys.readouterr().err
        assert code == 1
        assert "2 user(s) of the backup cannot be mapped by username" in err
        assert "'bob' (no user of exactly this name" in err
        assert "'carol' (no user of exactly this name" in err
        assert "alice" not in err
        assert "Traceback" not in err
        dynamodb, s3, _ = shared_clients(app.endpoint)
        assert dynamodb.scan(TableName=app.stack.table_name)["Count"] == 0
        assert s3.list_objects_v2(Bucket=app.stack.bucket)["KeyCount"] == 0


def test_skip_unmapped_needs_a_mapping(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["restore", "/nonexistent", "--skip-unmapped"]) == 2
    assert "--skip-unmapped goes with --map-users-by" in capsys.readouterr().err


async def test_skip_unmapped_restores_only_mapped_users_without_dangling_shares(
    tmp_path: Path,
) -> None:
    backup = await make_local_backup(tmp_path)
    async with aws_with_users(tmp_path, "alice", "bob") as rest:
        result = await restore_mapped(backup, rest, skip_unmapped=True)

        assert [u.username for u in result.users_left_out] == ["carol"]
        alice = await view_of(rest, "alice")
        assert set(alice["mine"]) == {"alpha-report.txt", "alpha-private.txt"}
        # carol's file is not restored; bob's file no longer names her.
        assert alice["shared"] == {"bravo-notes.txt": ("bob", [])}
        assert (await view_of(rest, "bob"))["mine"] == {"bravo-notes.txt": ("bob", ["alice"])}
        assert await search_names(rest, "alice", "charlie") == set()
        items = await all_items(rest)
        subs = {await cognito_sub(rest, "alice"), await cognito_sub(rest, "bob")}
        shares = [i for i in items if i.get("type") == "FileShare"]
        assert {s["user_id"] for s in shares} <= subs and len(shares) == 2
        assert {i["owner_id"] for i in items if i.get("type") == "File"} <= subs
        assert _names_any(items, set(backup.local_ids.values())) == []
        # The skipped user's file bytes were not copied either.
        assert result.blobs == 3


async def test_two_backup_users_of_one_username_go_to_no_one(tmp_path: Path) -> None:
    backup = await make_local_backup(tmp_path, old_bob=True)
    async with aws_with_users(tmp_path, "alice", "bob", "carol") as rest:
        with pytest.raises(UnmappedUsersError) as refused:
            await restore_mapped(backup, rest)
        assert {(u.username, u.user_id) for u in refused.value.unmapped} == {
            ("bob", backup.local_ids["bob"]),
            ("bob", "bob-before"),
        }
        assert "map onto the same target user" in str(refused.value)
        assert await all_items(rest) == []

        await restore_mapped(backup, rest, skip_unmapped=True)

        bob = await view_of(rest, "bob")
        assert bob["mine"] == {} and bob["shared"] == {}
        alice = await view_of(rest, "alice")
        assert alice["mine"]["alpha-report.txt"] == ("alice", [])
        assert await search_names(rest, "bob", "earlier") == set()
