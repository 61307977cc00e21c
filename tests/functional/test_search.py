"""search(...): permissions, read-your-writes after every mutation, paging, filters and
bad input (domain/search/README.md), through the schema."""

import pytest

from tests.support.schema_client import ADMIN, ALICE, BOB, SchemaClient, user_gid
from tests.support.search import hits, search

SHARE = "mutation($id: ID!, $u: String!) { shareFile(id: $id, username: $u) { id } }"
UNSHARE = "mutation($id: ID!, $u: String!) { unshareFile(id: $id, username: $u) { id } }"
UPDATE = "mutation($input: UpdateFileInput!) { updateFile(input: $input) { id } }"
DELETE = "mutation($id: ID!) { deleteFile(id: $id) }"
PROFILE = "mutation($n: String) { updateProfile(displayName: $n) { id } }"


@pytest.fixture
async def signed_in(client: SchemaClient) -> SchemaClient:
    for principal in (ALICE, BOB, ADMIN):
        await client.sign_in(principal)
    return client


async def test_analyzer_example_is_found_by_its_parts(signed_in: SchemaClient) -> None:
    await signed_in.upload(ALICE, name="Q3_Report-final.PDF")
    for query in ("q3 report pdf", "final", "quar", "Q3 REPO"):
        expected = [] if query == "quar" else ["Q3_Report-final.PDF"]
        assert await hits(signed_in, ALICE, query, types=["FILE"]) == expected


async def test_prefix_type_ahead_and_and_semantics(signed_in: SchemaClient) -> None:
    await signed_in.upload(ALICE, name="quarterly numbers.xlsx")
    await signed_in.upload(ALICE, name="quarterly plan.txt")
    assert sorted(await hits(signed_in, ALICE, "quar", types=["FILE"])) == [
        "quarterly numbers.xlsx",
        "quarterly plan.txt",
    ]
    # "pl" would also match the content type text/plain: type-ahead covers every field.
    assert await hits(signed_in, ALICE, "quarterly numb", types=["FILE"]) == [
        "quarterly numbers.xlsx"
    ]
    assert await hits(signed_in, ALICE, "plan numbers") == []


async def test_bob_never_learns_of_alices_private_file(signed_in: SchemaClient) -> None:
    private = await signed_in.upload(ALICE, name="secret budget.txt")
    await signed_in.upload(ALICE, name="public budget.txt", visibility="PUBLIC")
    result = await search(signed_in, BOB, "budget", first=1)
    assert result.errors == []
    page = result.data["search"]
    assert [e["node"]["name"] for e in page["edges"]] == ["public budget.txt"]
    assert page["pageInfo"]["hasNextPage"] is False
    # The same search as alice: two hits, so a page of one has a next page.
    result = await search(signed_in, ALICE, "budget", first=1)
    assert result.data["search"]["pageInfo"]["hasNextPage"] is True
    # Bob's scores are the same whether or not alice's private file exists.
    bob_score = page["edges"][0]["score"]
    await signed_in.execute(DELETE, ALICE, {"id": private["id"]})
    again = await search(signed_in, BOB, "budget")
    assert again.data["search"]["edges"][0]["score"] != pytest.approx(0)
    assert sorted(await hits(signed_in, ADMIN, "budget")) == ["public budget.txt"]
    assert bob_score > 0


async def test_admin_sees_everything(signed_in: SchemaClient) -> None:
    await signed_in.upload(ALICE, name="alice private.txt")
    await signed_in.upload(BOB, name="bob private.txt")
    assert sorted(await hits(signed_in, ADMIN, "private", types=["FILE"])) == [
        "alice private.txt",
        "bob private.txt",
    ]
    assert await hits(signed_in, BOB, "private", types=["FILE"]) == ["bob private.txt"]


async def test_pending_files_are_not_searchable(signed_in: SchemaClient) -> None:
    await signed_in.create_upload(ALICE, name="unfinished.txt")
    assert await hits(signed_in, ALICE, "unfinished") == []


async def test_share_and_unshare_take_effect_immediately(signed_in: SchemaClient) -> None:
    file = await signed_in.upload(ALICE, name="roadmap.md")
    assert await hits(signed_in, BOB, "roadmap") == []
    await signed_in.execute(SHARE, ALICE, {"id": file["id"], "u": "bob"})
    assert await hits(signed_in, BOB, "roadmap") == ["roadmap.md"]
    await signed_in.execute(UNSHARE, ALICE, {"id": file["id"], "u": "bob"})
    assert await hits(signed_in, BOB, "roadmap") == []


async def test_read_your_writes_complete_update_delete(signed_in: SchemaClient) -> None:
    file = await signed_in.upload(ALICE, name="draft.txt")
    assert await hits(signed_in, ALICE, "draft") == ["draft.txt"]
    change = {"id": file["id"], "name": "final.txt", "tags": ["Tax 2024"], "description": "Zebra"}
    result = await signed_in.execute(UPDATE, ALICE, {"input": change})
    assert result.errors == []
    assert await hits(signed_in, ALICE, "draft") == []
    assert await hits(signed_in, ALICE, "final") == ["final.txt"]
    assert await hits(signed_in, ALICE, "tax zebra") == ["final.txt"]
    await signed_in.execute(DELETE, ALICE, {"id": file["id"]})
    assert await hits(signed_in, ALICE, "final") == []


async def test_read_your_writes_update_profile(signed_in: SchemaClient) -> None:
    assert await hits(signed_in, BOB, "ali", types=["USER"]) == ["alice"]
    await signed_in.execute(PROFILE, ALICE, {"n": "Wonderland Explorer"})
    assert await hits(signed_in, BOB, "wonderland", types=["USER"]) == ["alice"]
    await signed_in.execute(PROFILE, ALICE, {"n": None})
    assert await hits(signed_in, BOB, "wonderland", types=["USER"]) == []


async def test_highlights_mark_the_matching_field(signed_in: SchemaClient) -> None:
    await signed_in.upload(ALICE, name="<Budget> 2024.txt", description="the yearly budget")
    result = await search(signed_in, ALICE, "budget")
    [edge] = result.data["search"]["edges"]
    assert edge["highlights"] == ["&lt;<em>Budget</em>&gt; 2024.txt", "the yearly <em>budget</em>"]


@pytest.mark.local_only("dozens of uploads: over the CI budget on moto")
async def test_paging_has_no_gaps_or_repeats(signed_in: SchemaClient) -> None:
    for n in range(25):
        await signed_in.upload(ALICE, name=f"invoice {n}.pdf", description="invoice " * (n % 4))
    seen: list[str] = []
    after = None
    while True:
        result = await search(signed_in, ALICE, "invoice", first=7, after=after)
        assert result.errors == []
        page = result.data["search"]
        seen += [edge["node"]["name"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(f"invoice {n}.pdf" for n in range(25))
    full = await hits(signed_in, ALICE, "invoice", first=100)
    assert seen == full  # the same order page by page as in one page
    scores = [
        e["score"]
        for e in (await search(signed_in, ALICE, "invoice", first=100)).data["search"]["edges"]
    ]
    assert scores == sorted(scores, reverse=True)


async def test_cursor_is_bound_to_query_viewer_and_filter(signed_in: SchemaClient) -> None:
    for n in range(3):
        await signed_in.upload(ALICE, name=f"memo {n}.txt", visibility="PUBLIC")
    result = await search(signed_in, ALICE, "memo", first=1)
    cursor = result.data["search"]["pageInfo"]["endCursor"]
    for principal, q, extra in (
        (BOB, "memo", {}),
        (ALICE, "memos", {}),
        (ALICE, "memo", {"filter": {"tags": ["x"]}}),
    ):
        other = await search(signed_in, principal, q, after=cursor, **extra)
        assert other.codes == ["BAD_USER_INPUT"]


async def test_filters(signed_in: SchemaClient) -> None:
    await signed_in.upload(ALICE, name="plan a.txt", tags=["work"])
    await signed_in.upload(ALICE, name="plan b.png", contentType="image/png", tags=["Work", "x"])
    await signed_in.upload(BOB, name="plan c.txt", visibility="PUBLIC")
    assert await hits(signed_in, ALICE, "plan", filter={"contentTypePrefix": "IMAGE/"}) == [
        "plan b.png"
    ]
    assert sorted(await hits(signed_in, ALICE, "plan", filter={"tags": ["work"]})) == [
        "plan a.txt",
        "plan b.png",
    ]
    assert await hits(signed_in, ALICE, "plan", filter={"tags": ["work", "x"]}) == ["plan b.png"]
    assert await hits(signed_in, ALICE, "plan", filter={"ownerId": user_gid(BOB)}) == ["plan c.txt"]
    signed_in.clock.advance(0.5)
    later = signed_in.clock.now.isoformat()
    await signed_in.upload(ALICE, name="plan d.txt")
    assert await hits(signed_in, ALICE, "plan", filter={"createdAfter": later}) == ["plan d.txt"]
    assert "plan d.txt" not in await hits(signed_in, ALICE, "plan", filter={"createdBefore": later})


async def test_types_select_files_or_users(signed_in: SchemaClient) -> None:
    await signed_in.upload(ALICE, name="bobcat.jpg")
    assert sorted(await hits(signed_in, ALICE, "bob")) == ["bob", "bobcat.jpg"]
    assert await hits(signed_in, ALICE, "bob", types=["USER"]) == ["bob"]
    assert await hits(signed_in, ALICE, "bob", types=["FILE"]) == ["bobcat.jpg"]


@pytest.mark.parametrize(
    ("q", "extra"),
    [
        ("", {}),
        ("   ", {}),
        ("x" * 1000, {}),
        ("report", {"first": 0}),
        ("report", {"first": 101}),
        ("report", {"after": "garbage"}),
        ("report", {"filter": {"ownerId": "not-an-id"}}),
    ],
)
async def test_bad_input(signed_in: SchemaClient, q: str, extra: dict[str, object]) -> None:
    result = await search(signed_in, ALICE, q, **extra)
    assert result.codes == ["BAD_USER_INPUT"]


async def test_anonymous_is_refused(signed_in: SchemaClient) -> None:
    result = await search(signed_in, None, "x")  # type: ignore[arg-type]
    assert result.codes == ["UNAUTHENTICATED"]


async def test_punctuation_only_query_finds_nothing(signed_in: SchemaClient) -> None:
    await signed_in.upload(ALICE, name="a.txt")
    assert await hits(signed_in, ALICE, "!!!") == []
