"""Batched reads: a page of files costs a constant number of store calls. File.owner and
File.sharedWith go through the per-request user loader, so the page below costs one query
(the listing items), one batched get of their metas and one batched get per 100 distinct
users, however many files it holds."""

import math

import pytest

from domain.models import Principal
from tests.support.schema_client import ALICE, SchemaClient
from tests.support.stores import CountingItemStore

PAGE = "{ myFiles(first: 100) { edges { node { owner { username } sharedWith { username } } } } }"
SHARE = "mutation($id: ID!, $u: String!) { shareFile(id: $id, username: $u) { id } }"
SHARES_PER_FILE = 3


@pytest.mark.parametrize(
    ("file_count", "user_count"), [(10, 30), (60, 30), (60, 130)], ids=lambda n: str(n)
)
async def test_a_page_costs_one_query_and_one_get_per_100_users(
    file_count: int, user_count: int
) -> None:
    client = SchemaClient(wrap_store=CountingItemStore)
    store = client.items
    assert isinstance(store, CountingItemStore)
    await client.sign_in(ALICE)
    users = [Principal(user_id=f"u-{n:03d}", username=f"user{n:03d}") for n in range(user_count)]
    for user in users:
        await client.sign_in(user)
    expected: dict[str, list[str]] = {}
    for i in range(file_count):
        file = await client.upload(ALICE, name=f"f{i:03d}.txt")
        sharees = [users[(SHARES_PER_FILE * i + j) % user_count] for j in range(SHARES_PER_FILE)]
        for sharee in sharees:
            result = await client.execute(SHARE, ALICE, {"id": file["id"], "u": sharee.username})
            assert result.errors == []
        expected[file["id"]] = [sharee.username for sharee in sharees]
    distinct_users = 1 + len({name for names in expected.values() for name in names})
    assert distinct_users == 1 + min(user_count, SHARES_PER_FILE * file_count)

    store.calls.clear()  # sign-in's profile check is done; count the page alone
    result = await client.execute(PAGE, ALICE)

    assert result.errors == []
    nodes = [edge["node"] for edge in result.data["myFiles"]["edges"]]
    assert len(nodes) == file_count
    assert all(node["owner"] == {"username": "alice"} for node in nodes)
    newest_first = list(expected.values())[::-1]
    assert [[u["username"] for u in node["sharedWith"]] for node in nodes] == newest_first
    assert store.calls == {"query": 1, "get_many": 1 + math.ceil(distinct_users / 100)}
