"""Who may see and change which file (domain/access.py; docs/AUTHORIZATION.md), on every edge:
file, node, myFiles, User.files, sharedWith, downloadUrl, sharedWithMe and every mutation."""

from dataclasses import dataclass
from typing import Any

import pytest

from domain.ids import to_global_id
from domain.models import Principal
from domain.users import profile_key
from tests.support.schema_client import (
    ADMIN,
    ALICE,
    BOB,
    COMPLETE_UPLOAD,
    GraphQLResult,
    SchemaClient,
    user_gid,
)

CAROL = Principal(user_id="u-carol", username="carol", email="carol@example.com")
READ = """query($id: ID!) {
  file(id: $id) { name visibility sharedWith { username } downloadUrl }
  node(id: $id) { id ... on File { name } }
}"""
USER_FILES = "query($id: ID!) { user(id: $id) { files { edges { node { name } } } } }"
SHARED_WITH_ME = "{ sharedWithMe { edges { node { name owner { username } } } } }"
SHARE = (
    "mutation($id: ID!, $u: String!) { shareFile(id: $id, username: $u) "
    "{ sharedWith { username } } }"
)
UNSHARE = (
    "mutation($id: ID!, $u: String!) { unshareFile(id: $id, username: $u) "
    "{ sharedWith { username } } }"
)
UPDATE = 'mutation($id: ID!) { updateFile(input: {id: $id, name: "mine.txt"}) { name } }'
DELETE = "mutation($id: ID!) { deleteFile(id: $id) }"


@dataclass
class Files:
    private: str
    public: str
    shared: str  # PRIVATE, shared with bob


@pytest.fixture
async def files(client: SchemaClient) -> Files:
    for principal in (ALICE, BOB, CAROL, ADMIN):
        await client.sign_in(principal)
    private = await client.upload(ALICE, name="private.txt")
    public = await client.upload(ALICE, name="public.txt", visibility="PUBLIC")
    shared = await client.upload(ALICE, name="shared.txt")
    result = await client.execute(SHARE, ALICE, {"id": shared["id"], "u": "bob"})
    assert result.errors == []
    return Files(private["id"], public["id"], shared["id"])


def names(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["name"] for edge in connection["edges"]]


def refusal(result: GraphQLResult) -> tuple[list[str], list[str], Any]:
    return result.codes, [error["message"] for error in result.errors], result.data


async def test_a_private_file_is_invisible_to_others_everywhere(
    client: SchemaClient, files: Files
) -> None:
    as_bob = await client.execute(READ, BOB, {"id": files.private})
    assert as_bob.errors == []
    assert as_bob.data == {"file": None, "node": None}

    missing_id = to_global_id("File", "0123456789abcdef")
    assert (await client.execute(READ, BOB, {"id": missing_id})).data == as_bob.data

    bobs_own = await client.execute("{ myFiles { edges { node { name } } } }", BOB)
    assert names(bobs_own.data["myFiles"]) == []

    alices_seen_by_bob = await client.execute(USER_FILES, BOB, {"id": user_gid(ALICE)})
    assert names(alices_seen_by_bob.data["user"]["files"]) == ["shared.txt", "public.txt"]
    alices_seen_by_carol = await client.execute(USER_FILES, CAROL, {"id": user_gid(ALICE)})
    assert names(alices_seen_by_carol.data["user"]["files"]) == ["public.txt"]
    alices_own = await client.execute(USER_FILES, ALICE, {"id": user_gid(ALICE)})
    assert names(alices_own.data["user"]["files"]) == ["shared.txt", "public.txt", "private.txt"]


@pytest.mark.parametrize(
    ("mutation", "extra"),
    [
        (UPDATE, {}),
        (DELETE, {}),
        (SHARE, {"u": "carol"}),
        (UNSHARE, {"u": "bob"}),
        (COMPLETE_UPLOAD, {}),
    ],
    ids=["update", "delete", "share", "unshare", "complete"],
)
async def test_changing_an_unreadable_file_looks_like_changing_a_missing_one(
    client: SchemaClient, files: Files, mutation: str, extra: dict[str, str]
) -> None:
    unreadable = await client.execute(mutation, BOB, {"id": files.private} | extra)
    missing = await client.execute(
        mutation, BOB, {"id": to_global_id("File", "0123456789abcdef")} | extra
    )
    other_type = await client.execute(mutation, BOB, {"id": user_gid(ALICE)} | extra)
    assert refusal(unreadable) == refusal(missing) == refusal(other_type)
    assert unreadable.codes == ["NOT_FOUND"]
    as_alice = await client.execute(READ, ALICE, {"id": files.private})
    assert as_alice.data["file"]["name"] == "private.txt"  # nothing changed
    assert as_alice.data["file"]["sharedWith"] == []


@pytest.mark.parametrize("which", ["public", "shared"])
@pytest.mark.parametrize(
    ("mutation", "extra"),
    [(UPDATE, {}), (DELETE, {}), (SHARE, {"u": "carol"}), (UNSHARE, {"u": "bob"})],
    ids=["update", "delete", "share", "unshare"],
)
async def test_a_readable_file_of_someone_else_cannot_be_changed(
    client: SchemaClient, files: Files, which: str, mutation: str, extra: dict[str, str]
) -> None:
    file_id = getattr(files, which)
    before = await client.execute(READ, ALICE, {"id": file_id})
    result = await client.execute(mutation, BOB, {"id": file_id} | extra)
    assert result.codes == ["FORBIDDEN"]
    assert result.data is None
    after = await client.execute(READ, ALICE, {"id": file_id})
    assert {**after.data["file"], "downloadUrl": None} == {
        **before.data["file"],
        "downloadUrl": None,
    }


async def test_readers_of_public_and_shared_files_see_them_but_not_the_shares(
    client: SchemaClient, files: Files
) -> None:
    for file_id, name in [(files.public, "public.txt"), (files.shared, "shared.txt")]:
        result = await client.execute(READ, BOB, {"id": file_id})
        assert result.errors == []
        file = result.data["file"]
        assert file["name"] == name
        assert file["sharedWith"] == []
        assert file["downloadUrl"] is not None
        assert result.data["node"] == {"id": file_id, "name": name}
    carol = await client.execute(READ, CAROL, {"id": files.shared})
    assert carol.data == {"file": None, "node": None}


async def test_owner_and_admin_see_whom_a_file_is_shared_with(
    client: SchemaClient, files: Files
) -> None:
    for viewer in (ALICE, ADMIN):
        result = await client.execute(READ, viewer, {"id": files.shared})
        assert result.data["file"]["sharedWith"] == [{"username": "bob"}]


async def test_share_and_unshare_by_username(client: SchemaClient, files: Files) -> None:
    shared = await client.execute(SHARE, ALICE, {"id": files.private, "u": "Carol"})
    assert shared.errors == []
    assert shared.data["shareFile"]["sharedWith"] == [{"username": "carol"}]
    again = await client.execute(SHARE, ALICE, {"id": files.private, "u": "carol"})
    assert again.data == shared.data  # idempotent

    as_carol = await client.execute(SHARED_WITH_ME, CAROL)
    assert as_carol.data["sharedWithMe"]["edges"] == [
        {"node": {"name": "private.txt", "owner": {"username": "alice"}}}
    ]
    readable = await client.execute(READ, CAROL, {"id": files.private})
    assert readable.data["file"]["downloadUrl"] is not None

    unshared = await client.execute(UNSHARE, ALICE, {"id": files.private, "u": "carol"})
    assert unshared.data["unshareFile"]["sharedWith"] == []
    assert (await client.execute(SHARED_WITH_ME, CAROL)).data["sharedWithMe"]["edges"] == []
    gone = await client.execute(READ, CAROL, {"id": files.private})
    assert gone.data == {"file": None, "node": None}


@pytest.mark.parametrize("username", ["alice", "ALICE", "nobody", "", "x" * 300])
async def test_sharing_with_yourself_or_an_unknown_user_is_bad_input(
    client: SchemaClient, files: Files, username: str
) -> None:
    result = await client.execute(SHARE, ALICE, {"id": files.private, "u": username})
    assert result.codes == ["BAD_USER_INPUT"]
    after = await client.execute(READ, ALICE, {"id": files.private})
    assert after.data["file"]["sharedWith"] == []


async def test_shared_with_me_lists_only_what_is_shared_with_the_viewer(
    client: SchemaClient, files: Files
) -> None:
    as_bob = await client.execute(SHARED_WITH_ME, BOB)
    assert [edge["node"]["name"] for edge in as_bob.data["sharedWithMe"]["edges"]] == ["shared.txt"]
    as_alice = await client.execute(SHARED_WITH_ME, ALICE)
    assert as_alice.data["sharedWithMe"]["edges"] == []


async def test_users_who_no_longer_exist_are_dropped_from_shared_with(
    client: SchemaClient, files: Files
) -> None:
    key = profile_key(BOB.user_id)
    await client.drop_item(key)
    result = await client.execute(READ, ALICE, {"id": files.shared})
    assert result.errors == []
    assert result.data["file"]["sharedWith"] == []


async def test_admin_reads_and_changes_everything(client: SchemaClient, files: Files) -> None:
    read = await client.execute(READ, ADMIN, {"id": files.private})
    assert read.data["file"]["name"] == "private.txt"
    alices = await client.execute(USER_FILES, ADMIN, {"id": user_gid(ALICE)})
    assert len(alices.data["user"]["files"]["edges"]) == 3

    updated = await client.execute(UPDATE, ADMIN, {"id": files.private})
    assert updated.data == {"updateFile": {"name": "mine.txt"}}
    shared = await client.execute(SHARE, ADMIN, {"id": files.private, "u": "carol"})
    assert shared.data["shareFile"]["sharedWith"] == [{"username": "carol"}]
    unshared = await client.execute(UNSHARE, ADMIN, {"id": files.private, "u": "carol"})
    assert unshared.data["unshareFile"]["sharedWith"] == []
    deleted = await client.execute(DELETE, ADMIN, {"id": files.private})
    assert deleted.data == {"deleteFile": files.private}
    assert (await client.execute(READ, ALICE, {"id": files.private})).data["file"] is None


async def test_ids_that_name_no_file(client: SchemaClient, files: Files) -> None:
    user_id = await client.execute(READ, ALICE, {"id": user_gid(ALICE)})
    assert user_id.data == {"file": None, "node": {"id": user_gid(ALICE)}}
    malformed = await client.execute(
        "query($id: ID!) { file(id: $id) { id } }", ALICE, {"id": "%%%"}
    )
    assert malformed.codes == ["BAD_USER_INPUT"]
    assert malformed.data == {"file": None}
    bad_mutation = await client.execute(DELETE, ALICE, {"id": "%%%"})
    assert bad_mutation.codes == ["BAD_USER_INPUT"]


async def test_anonymous_callers_see_nothing(client: SchemaClient, files: Files) -> None:
    for query, variables in [
        (READ, {"id": files.public}),
        ("{ myFiles { edges { node { id } } } }", {}),
        (SHARED_WITH_ME, {}),
    ]:
        result = await client.execute(query, None, variables)
        assert result.errors
        assert set(result.codes) == {"UNAUTHENTICATED"}
        assert result.data is None or all(value is None for value in result.data.values())
