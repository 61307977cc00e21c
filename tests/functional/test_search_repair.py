"""A failure between the metadata write and the end of indexing never shows a wrong hit, and
`reindex` (also while writes go on) brings the index back in line (domain/search/README.md
"Consistency")."""

import asyncio
import base64
from collections.abc import AsyncIterator, Sequence

import pytest

from domain.ports import Delete, Item, ItemStore, Key, Page, Put, WriteOp
from domain.search import keys
from domain.search.reindex import mark_rebuilding, reindex
from tests.support.schema_client import ALICE, BOB, SchemaClient
from tests.support.search import hits, search

UPDATE = "mutation($input: UpdateFileInput!) { updateFile(input: $input) { id name } }"


class FailingStore:
    """Passes everything through until armed; then the Nth write from arming fails."""

    def __init__(self, inner: ItemStore) -> None:
        self.inner = inner
        self.fail_at: int | None = None
        self.writes = 0

    def arm(self, nth: int) -> None:
        self.fail_at, self.writes = nth, 0

    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        return await self.inner.get_many(keys)

    async def query(self, partition: str, **kwargs: object) -> Page:
        return await self.inner.query(partition, **kwargs)  # type: ignore[arg-type]

    async def write(self, ops: Sequence[WriteOp]) -> None:
        self.writes += 1
        if self.fail_at is not None and self.writes == self.fail_at:
            self.fail_at = None
            raise RuntimeError("simulated crash")
        await self.inner.write(ops)

    def scan(self, *, page_size: int = 500) -> AsyncIterator[list[Item]]:
        return self.inner.scan(page_size=page_size)

    async def ping(self) -> None:
        await self.inner.ping()


async def _reindex(client: SchemaClient) -> int:
    return await reindex(
        client.items,
        sync_file=client.services.files.index_for_search,
        sync_user=client.services.users.index_for_search,
    )


async def test_crash_at_every_step_shows_no_stale_hit_and_reindex_repairs() -> None:
    for nth in range(2, 9):  # write 1 is the metadata itself; 2.. are index writes
        store: FailingStore | None = None

        def wrap(inner: ItemStore) -> ItemStore:
            nonlocal store
            store = FailingStore(inner)
            return store

        client = SchemaClient(wrap_store=wrap)
        assert store is not None
        await client.sign_in(ALICE)
        file = await client.upload(ALICE, name="alpha report.txt")
        store.arm(nth)
        change = {"id": file["id"], "name": "omega summary.txt", "description": "long " * 300}
        result = await client.execute(UPDATE, ALICE, {"input": change})
        assert result.codes in ([], ["INTERNAL_SERVER_ERROR"]), (nth, result.errors)
        # Whatever step failed, the old name is never found any more.
        assert await hits(client, ALICE, "alpha") == [], nth
        assert await _reindex(client) >= 2
        assert await hits(client, ALICE, "omega summary") == ["omega summary.txt"], nth
        assert await hits(client, ALICE, "report") == []


@pytest.mark.local_only("edits the in-memory store's dict behind the services")
async def test_reindex_removes_documents_that_no_longer_exist(client: SchemaClient) -> None:
    await client.sign_in(ALICE)
    await client.upload(ALICE, name="ghost.txt")
    # Metadata removed behind the index's back (say, restored from an older backup).
    meta = next(key for key in client.store.items if key[1] == "META")
    del client.store.items[meta]
    assert await hits(client, ALICE, "ghost") == []
    await _reindex(client)
    assert not any(pk.startswith("SRCH#P#F#ghost") for pk, _ in client.store.items)


@pytest.mark.local_only("edits the in-memory store's dict behind the services")
async def test_reindex_while_writes_go_on_ends_consistent(client: SchemaClient) -> None:
    for principal in (ALICE, BOB):
        await client.sign_in(principal)
    files = [await client.upload(ALICE, name=f"first{n}.txt") for n in range(12)]

    async def rename_all() -> None:
        for n, file in enumerate(files):
            change = {"id": file["id"], "name": f"second{n}.txt"}
            result = await client.execute(UPDATE, ALICE, {"input": change})
            assert result.errors == []
            await asyncio.sleep(0)

    await asyncio.gather(_reindex(client), rename_all(), _reindex(client))
    assert await hits(client, ALICE, "first") == []
    assert sorted(await hits(client, ALICE, "second", first=50)) == sorted(
        f"second{n}.txt" for n in range(12)
    )
    states = [i for (pk, _), i in client.store.items.items() if pk.startswith("SRCH#D#")]
    assert all(not state["pending"] for state in states)


async def test_reindex_moves_the_pre_scope_layout_to_access_scopes(client: SchemaClient) -> None:
    """An index written before access scopes (unscoped file postings, state without
    "scopes"): reindex removes the old postings and writes the scoped ones."""
    await client.sign_in(ALICE)
    file = await client.upload(ALICE, name="legacy ledger.txt")
    file_id = base64.urlsafe_b64decode(file["id"] + "==").decode().removeprefix("File:")
    state_key = keys.state_key("F", file_id)
    [state] = await client.items.get_many([state_key])
    assert state is not None and "ALL" in state["scopes"], file
    # Rewrite it as the old layout: one unscoped posting, the scoped ones gone.
    scoped = [keys.posting_key("F", "ledger", file_id, s) for s in state["scopes"]]
    old = keys.posting_key("F", "ledger", file_id)
    legacy = {k: v for k, v in state.items() if k not in ("scopes", "pending_scopes")}
    old_item = {"pk": old.pk, "sk": old.sk, "gsi1pk": old.pk, "gsi1sk": "000000#" + file_id}
    await client.items.write(
        [Put(legacy), Put(old_item | {"kind": "F", "doc_id": file_id})]
        + [Delete(k) for k in scoped]
    )
    assert await hits(client, ALICE, "ledger") == []  # old postings are not read

    await _reindex(client)
    assert await client.items.get_many([old]) == [None]
    assert None not in await client.items.get_many(scoped)
    assert await hits(client, ALICE, "ledger") == ["legacy ledger.txt"]


@pytest.mark.local_only("edits the in-memory store's dict behind the services")
async def test_reindex_moves_index_wide_counters_to_access_scopes(client: SchemaClient) -> None:
    """An index written before scoped counters: document frequencies counted index-wide
    (SRCH#V#F#<2 chars>), states without "counted_scopes". Queries read the vocabulary of
    the viewer's scopes only, so the file is not found until reindex rebuilds them."""
    await client.sign_in(ALICE)
    await client.upload(ALICE, name="legacy ledger.txt")
    scoped = {
        key: item
        for key, item in client.store.items.items()
        if key[0].startswith("SRCH#V#F#") and item.get("type") == "SearchTerm"
    }
    assert {pk.split("#")[3] for pk, _ in scoped} == {"ALL", "OWNER"}
    legacy: dict[tuple[str, str], Item] = {}
    for (_, sk), item in scoped.items():
        old = keys.df_key("F", item["term"], int(sk.rsplit("#", 1)[1]))
        legacy[old.pk, old.sk] = {"pk": old.pk, "sk": old.sk, "type": "SearchTerm"} | {
            "term": item["term"],
            "df": 1,
            "version": 1,
        }
    states = [i for (pk, _), i in client.store.items.items() if pk.startswith("SRCH#D#F#")]
    await client.items.write(
        [Delete(Key(pk, sk)) for pk, sk in scoped]
        + [Put(item) for item in legacy.values()]
        + [Put({k: v for k, v in s.items() if k != "counted_scopes"}) for s in states]
    )
    assert await hits(client, ALICE, "ledger") == []  # index-wide counters are not read

    await _reindex(client)
    assert await client.items.get_many([Key(pk, sk) for pk, sk in legacy]) == [None] * len(legacy)
    rebuilt = await client.items.get_many([Key(pk, sk) for pk, sk in scoped])
    assert [item and item["df"] for item in rebuilt] == [1] * len(scoped)
    assert await hits(client, ALICE, "ledger") == ["legacy ledger.txt"]


async def test_search_answers_index_rebuilding_until_the_rebuild_completes(
    client: SchemaClient,
) -> None:
    await client.sign_in(ALICE)
    await client.upload(ALICE, name="ledger.txt")
    await mark_rebuilding(client.items)  # what a restore does before it writes any data
    result = await search(client, ALICE, "ledger")
    assert result.codes == ["INDEX_REBUILDING"]
    assert result.data is None or result.data.get("search") is None
    assert await _reindex(client) >= 2
    assert await hits(client, ALICE, "ledger") == ["ledger.txt"]
