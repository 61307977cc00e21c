"""Data from before the listing items (or a restore, which leaves them to be rebuilt) is
listed once `rebuild_listings` has run: reindex and restore run it."""

from domain.files import rebuild_listings
from tests.support.schema_client import ALICE, BOB, SchemaClient

LISTED = "{ myFiles { edges { node { name status } } } }"
SHARED = "{ sharedWithMe { edges { node { name } } } }"
SHARE = "mutation($id: ID!, $u: String!) { shareFile(id: $id, username: $u) { id } }"


async def test_listings_come_back_from_the_metas_and_shares() -> None:
    client = SchemaClient()
    for principal in (ALICE, BOB):
        await client.sign_in(principal)
    ready = await client.upload(ALICE, name="ready.txt")
    client.clock.advance()
    await client.create_upload(ALICE, name="pending.txt")
    await client.execute(SHARE, ALICE, {"id": ready["id"], "u": "bob"})
    items = client.store.items
    before = {key: item for key, item in items.items() if key[0].startswith("LIST#")}
    for key in before:
        del items[key]  # as data written before listing items existed
    assert (await client.execute(LISTED, ALICE)).data["myFiles"]["edges"] == []
    assert (await client.execute(SHARED, BOB)).data["sharedWithMe"]["edges"] == []

    assert await rebuild_listings(client.store) == 3
    listed = (await client.execute(LISTED, ALICE)).data["myFiles"]["edges"]
    assert [edge["node"] for edge in listed] == [
        {"name": "pending.txt", "status": "PENDING"},
        {"name": "ready.txt", "status": "READY"},
    ]
    shared = (await client.execute(SHARED, BOB)).data["sharedWithMe"]["edges"]
    assert [edge["node"]["name"] for edge in shared] == ["ready.txt"]
    # The very items the mutations wrote, the PENDING file's TTL included.
    assert {k: v for k, v in items.items() if k[0].startswith("LIST#")} == before
