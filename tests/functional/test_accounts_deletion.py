"""deleteAccount through the real schema over the in-memory stores: everything the user
had goes (files and bytes, grants both ways, search entries, usage, profile, identity),
other users keep theirs, bad input changes nothing, and an interrupted deletion is
finished by the purge."""

from collections.abc import Sequence
from typing import Any

import pytest

from domain.errors import InvalidTokenError, StoreUnavailableError
from domain.ids import from_global_id
from domain.models import Principal
from domain.ports import ItemStore, WriteOp
from tests.support.schema_client import ADMIN, ALICE, BOB, SchemaClient, user_gid
from tests.support.search import hits
from tests.support.stores import CountingItemStore

CAROL = Principal(user_id="u-carol", username="carol", email="carol@example.com")
DELETE = "mutation($c: String!, $u: ID) { deleteAccount(confirm: $c, userId: $u) }"
SHARE = "mutation($id: ID!, $u: String!) { shareFile(id: $id, username: $u) { id } }"
SHARED_WITH_ME = "{ sharedWithMe(first: 50) { edges { node { name } } } }"
BY_NAME = "query($n: String!) { userByUsername(username: $n) { id } }"
FILE = "query($id: ID!) { file(id: $id) { name sharedWith { username } } }"


async def world(client: SchemaClient) -> dict[str, str]:
    """alice: a file shared with bob, a PUBLIC one, a pending upload; bob: a file shared
    with alice and carol. File ids by name."""
    for who in (ALICE, BOB, CAROL, ADMIN):
        await client.sign_in(who)
    ids = {}
    ids["alicesecret"] = (await client.upload(ALICE, b"alice secret", name="alicesecret.txt"))["id"]
    ids["alicepublic"] = (
        await client.upload(ALICE, b"alice public", name="alicepublic.txt", visibility="PUBLIC")
    )["id"]
    await client.create_upload(ALICE, b"never sent", name="alicepending.txt")
    ids["bobnotes"] = (await client.upload(BOB, b"bob notes", name="bobnotes.txt"))["id"]
    for file_id, owner, to in (
        (ids["alicesecret"], ALICE, "bob"),
        (ids["bobnotes"], BOB, "alice"),
        (ids["bobnotes"], BOB, "carol"),
    ):
        result = await client.execute(SHARE, owner, {"id": file_id, "u": to})
        assert result.errors == [], result.errors
    return ids


def items_naming(client: SchemaClient, user_id: str) -> list[tuple[str, str]]:
    return sorted(key for key, item in client.store.items.items() if user_id in repr((key, item)))


async def assert_gone(client: SchemaClient, ids: dict[str, str]) -> None:
    # Only the tombstone names alice now; her bytes are gone, bob's are not.
    assert items_naming(client, ALICE.user_id) == [("USER#u-alice", "TOMBSTONE")]
    bobs_folder = f"files/{from_global_id(ids['bobnotes'])[1]}/"
    assert [key.startswith(bobs_folder) for key in client.blobs.objects] == [True]
    assert client.identity.deleted == ["alice"]
    shared = await client.execute(SHARED_WITH_ME, BOB)
    assert shared.data == {"sharedWithMe": {"edges": []}}
    assert await hits(client, BOB, "alicesecret") == []
    assert await hits(client, CAROL, "alicepublic") == []
    assert await hits(client, BOB, "alice") == []
    assert (await client.execute(BY_NAME, BOB, {"n": "alice"})).data == {"userByUsername": None}
    bobs = await client.execute(FILE, BOB, {"id": ids["bobnotes"]})
    assert bobs.data == {"file": {"name": "bobnotes.txt", "sharedWith": [{"username": "carol"}]}}
    assert await hits(client, CAROL, "bobnotes") == ["bobnotes.txt"]


async def test_deleting_ones_account_removes_everything_it_had() -> None:
    client = SchemaClient()
    ids = await world(client)
    assert await hits(client, BOB, "alicesecret") == ["alicesecret.txt"]

    exported = await client.execute("mutation { exportMyData { status } }", ALICE)
    assert exported.data == {"exportMyData": {"status": "READY"}}  # an archive to remove too

    result = await client.execute(DELETE, ALICE, {"c": "alice"})
    assert result.errors == [] and result.data == {"deleteAccount": user_gid(ALICE)}
    await assert_gone(client, ids)
    # The deleted user's tokens are refused from now on (no profile is re-created).
    with pytest.raises(InvalidTokenError):
        await client.services.profiles.ensure_profile(ALICE)


@pytest.mark.parametrize(
    ("viewer", "variables", "code"),
    [
        (ALICE, {"c": "Alice"}, "BAD_USER_INPUT"),  # exact username, letter case included
        (ALICE, {"c": ""}, "BAD_USER_INPUT"),
        (BOB, {"c": "alice", "u": user_gid(ALICE)}, "FORBIDDEN"),
        (BOB, {"c": "bob", "u": user_gid(ALICE)}, "FORBIDDEN"),
        (ADMIN, {"c": "bob", "u": user_gid(ALICE)}, "BAD_USER_INPUT"),
        (ADMIN, {"c": "nobody", "u": user_gid(Principal("u-nobody", "nobody"))}, "NOT_FOUND"),
        (ADMIN, {"c": "alice", "u": "not-an-id"}, "BAD_USER_INPUT"),
        (None, {"c": "alice"}, "UNAUTHENTICATED"),
    ],
    ids=["case", "empty", "other", "other-own-name", "admin-wrong", "missing", "bad-id", "anon"],
)
async def test_refused_deletions_change_nothing(
    viewer: Principal | None, variables: dict[str, Any], code: str
) -> None:
    client = SchemaClient()
    await world(client)
    before, blobs = dict(client.store.items), dict(client.blobs.objects)
    result = await client.execute(DELETE, viewer, variables)
    assert [error["extensions"]["code"] for error in result.errors] == [code]
    assert result.data is None
    assert client.store.items == before and client.blobs.objects == blobs
    assert client.identity.deleted == []


async def test_an_admin_deletes_another_account() -> None:
    client = SchemaClient()
    ids = await world(client)
    result = await client.execute(DELETE, ADMIN, {"c": "alice", "u": user_gid(ALICE)})
    assert result.data == {"deleteAccount": user_gid(ALICE)}
    await assert_gone(client, ids)
    assert (await client.execute("{ me { username } }", ADMIN)).data == {"me": {"username": "root"}}


class _FailingAfter(CountingItemStore):
    """Fails every write after the first ``allowed`` ones: a crash, mid-purge."""

    def __init__(self, inner: ItemStore) -> None:
        super().__init__(inner)
        self.allowed: int | None = None

    async def write(self, ops: Sequence[WriteOp]) -> None:
        if self.allowed is not None:
            if self.allowed == 0:
                raise StoreUnavailableError("The store is unavailable")
            self.allowed -= 1
        await super().write(ops)


async def test_the_purge_writes_in_many_steps() -> None:
    """The interruption points below are all inside the purge (it takes 60-odd writes;
    how many varies a little with how the search entries shard)."""
    client = SchemaClient(wrap_store=CountingItemStore)
    counting = client.items
    assert isinstance(counting, CountingItemStore)
    await world(client)
    counting.calls.clear()
    assert (await client.execute(DELETE, ALICE, {"c": "alice"})).errors == []
    assert counting.calls["write"] > max(INTERRUPTIONS)


INTERRUPTIONS = range(1, 53, 3)


@pytest.mark.parametrize("allowed", INTERRUPTIONS)
async def test_an_interrupted_deletion_is_finished_by_the_purge(allowed: int) -> None:
    client = SchemaClient(wrap_store=_FailingAfter)
    failing = client.items
    assert isinstance(failing, _FailingAfter)
    ids = await world(client)

    failing.allowed = allowed  # the tombstone, then some of the purge
    result = await client.execute(DELETE, ALICE, {"c": "alice"})
    assert [error["extensions"]["code"] for error in result.errors] == ["INTERNAL_SERVER_ERROR"]
    # Already: alice's tokens are refused, whatever is left of her data.
    with pytest.raises(InvalidTokenError):
        await client.services.profiles.ensure_profile(ALICE)

    failing.allowed = None
    accounts = client.services.accounts
    assert accounts is not None
    assert await accounts.finish_deletions() == 1
    await assert_gone(client, ids)
    assert await accounts.finish_deletions() == 0
