"""Data from before the listing items (or a restore, which leaves them to be rebuilt) is
listed once `rebuild_listings` has run: reindex and restore run it."""

from collections.abc import AsyncIterator

from adapters.items.memory import InMemoryItemStore
from domain.files import rebuild_listings
from domain.ports import Item
from tests.support.schema_client import ALICE, BOB, SchemaClient

LISTED = "{ myFiles { edges { node { name status } } } }"
SHARED = "{ sharedWithMe { edges { node { name } } } }"
COMPLETE = "mutation($id: ID!) { completeUpload(id: $id) { id } }"
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
    assert await rebuild_listings(client.store) == 0  # nothing missing: nothing written


async def test_a_rebuild_never_replaces_a_listing_item_the_use_cases_wrote() -> None:
    """A reindex while the server serves: the upload it scanned as PENDING is completed
    before it writes. The rebuild must not put back the PENDING copy, whose TTL would
    later take a READY file out of myFiles."""
    client = SchemaClient()
    await client.sign_in(ALICE)
    payload = await client.create_upload(ALICE, b"bytes", name="late.txt")
    scanned = [dict(item) for item in client.store.items.values()]  # the rebuild's scan
    client.send_bytes(payload["upload"], b"bytes")
    done = await client.execute(COMPLETE, ALICE, {"id": payload["file"]["id"]})
    assert done.errors == []

    class ScannedBefore(InMemoryItemStore):
        async def scan(self, *, page_size: int = 500) -> AsyncIterator[list[Item]]:
            yield scanned

    store = ScannedBefore()
    store.items = client.store.items
    assert await rebuild_listings(store) == 0
    [listing] = [v for k, v in client.store.items.items() if k[0].startswith("LIST#O#")]
    assert "expires_at" not in listing
