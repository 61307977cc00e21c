"""Read caps (domain/search/README.md "Access scopes"): file postings are partitioned by access
scope, so the engine's read budget is spent only on postings the viewer may read. Alice's many
private, higher-impact matches cannot push bob's weaker matches out of reach; sharing,
unsharing and visibility changes show in search as soon as the mutation returns."""

from typing import Any

import pytest

from domain.search import engine
from tests.support.schema_client import ADMIN, ALICE, BOB, SchemaClient
from tests.support.search import hits, search

SHARE = "mutation($id: ID!, $u: String!) { shareFile(id: $id, username: $u) { id } }"
UNSHARE = "mutation($id: ID!, $u: String!) { unshareFile(id: $id, username: $u) { id } }"
VISIBILITY = """mutation($id: ID!, $v: Visibility!) {
  updateFile(input: {id: $id, visibility: $v}) { id } }"""


@pytest.fixture
async def signed_in(client: SchemaClient) -> SchemaClient:
    for principal in (ALICE, BOB, ADMIN):
        await client.sign_in(principal)
    return client


async def _answer(client: SchemaClient, first: int) -> dict[str, Any]:
    result = await search(client, BOB, "report", first=first, types=["FILE"])
    assert result.errors == [], result.errors
    data: dict[str, Any] = result.data["search"]
    return data


@pytest.mark.local_only("dozens of uploads: over the CI budget on moto")
async def test_private_files_do_not_spend_bobs_read_budget(
    signed_in: SchemaClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small cap instead of > 1,000 seeded files: the same code path, the same leak.
    monkeypatch.setattr(engine, "READ_BUDGET", 12)
    monkeypatch.setattr(engine, "POSTING_PAGE", 12)
    filler = "words about other things " * 6
    for n in range(3):  # weak matches: the term once, in a long description
        await signed_in.upload(BOB, name=f"bob notes {n}.txt", description=f"{filler} report")
    await signed_in.upload(
        ALICE, name="alice public.txt", description=f"{filler} report", visibility="PUBLIC"
    )
    before = [await _answer(signed_in, 2), await _answer(signed_in, 10)]
    assert len(before[1]["edges"]) == 4
    assert before[0]["pageInfo"]["hasNextPage"] is True

    for n in range(30):  # strong private matches: the term in name and tags
        await signed_in.upload(ALICE, name=f"report {n}.txt", tags=["report"])

    assert [await _answer(signed_in, 2), await _answer(signed_in, 10)] == before
    # The admin reads everything (and within its cap, the best-impact postings).
    everything = await hits(signed_in, ADMIN, "report", first=100, types=["FILE"])
    assert len(everything) == 12
    assert all(name.startswith("report ") for name in everything)


async def test_sharing_and_visibility_show_immediately(signed_in: SchemaClient) -> None:
    file = await signed_in.upload(ALICE, name="quarterly forecast.txt")
    assert await hits(signed_in, BOB, "forecast") == []
    await signed_in.execute(SHARE, ALICE, {"id": file["id"], "u": "bob"})
    assert await hits(signed_in, BOB, "forecast") == ["quarterly forecast.txt"]
    await signed_in.execute(UNSHARE, ALICE, {"id": file["id"], "u": "bob"})
    assert await hits(signed_in, BOB, "forecast") == []
    assert await hits(signed_in, ALICE, "forecast") == ["quarterly forecast.txt"]

    result = await signed_in.execute(VISIBILITY, ALICE, {"id": file["id"], "v": "PUBLIC"})
    assert result.errors == [], result.errors
    assert await hits(signed_in, BOB, "forecast") == ["quarterly forecast.txt"]
    assert await hits(signed_in, ADMIN, "forecast") == ["quarterly forecast.txt"]
    await signed_in.execute(VISIBILITY, ALICE, {"id": file["id"], "v": "PRIVATE"})
    assert await hits(signed_in, BOB, "forecast") == []
    assert await hits(signed_in, ALICE, "forecast") == ["quarterly forecast.txt"]
    assert await hits(signed_in, ADMIN, "forecast") == ["quarterly forecast.txt"]


async def _answers(client: SchemaClient, q: str) -> list[dict[str, Any]]:
    answers = []
    for first in (2, 10):
        result = await search(client, BOB, q, first=first, types=["FILE"])
        assert result.errors == [], result.errors
        answers.append(result.data["search"])
    return answers


@pytest.mark.local_only("dozens of uploads: over the CI budget on moto")
async def test_private_files_do_not_choose_the_driver_when_the_caps_bind(
    signed_in: SchemaClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rarest term group drives, and when the caps bind which matches are reached
    depends on the driver: its document frequency must count only files bob may read."""
    monkeypatch.setattr(engine, "ACCEPT_TARGET", 3)
    filler = "words about other things " * 6
    for n in range(3):  # "budget" strong (name), "plan" weak (a long description)
        await signed_in.upload(BOB, name=f"budget sheet {n}.txt", description=f"{filler} plan")
    for n in range(3):  # the other way round
        await signed_in.upload(BOB, name=f"plan draft {n}.txt", description=f"{filler} budget")
    for n in range(3):  # for bob "budget" is the rarer term, so it drives
        await signed_in.upload(BOB, name=f"plan only {n}.txt")
    before = await _answers(signed_in, "budget plan")
    assert sorted(e["node"]["name"] for e in before[1]["edges"]) == [
        f"budget sheet {n}.txt" for n in range(3)
    ]
    assert before[0]["pageInfo"]["hasNextPage"] is True

    # Alice's private files make "budget" the commoner term index-wide.
    for n in range(8):
        await signed_in.upload(ALICE, name=f"budget private {n}.txt")

    assert await _answers(signed_in, "budget plan") == before
    # The admin reads alice's files too, and they do count for the admin.
    everything = await hits(signed_in, ADMIN, "budget plan", first=10, types=["FILE"])
    assert len(everything) == 3


async def test_prefix_completions_follow_shares(signed_in: SchemaClient) -> None:
    """The completions a prefix matches through are counted over the files bob may read:
    while alice shares files holding ten frequent completions, those take the prefix's 10
    places; once she unshares them, bob's own rarer completion is matched again."""
    markdown = "text/markdown"
    await signed_in.upload(BOB, name="foraxyz.md", contentType=markdown)
    completions = " ".join(f"fora{letter}" for letter in "abcdefghij")
    shared = [
        await signed_in.upload(
            ALICE, name=f"alice {n}.md", contentType=markdown, description=completions
        )
        for n in range(2)
    ]
    assert await hits(signed_in, BOB, "fora") == ["foraxyz.md"]
    for file in shared:
        await signed_in.execute(SHARE, ALICE, {"id": file["id"], "u": "bob"})
    assert sorted(await hits(signed_in, BOB, "fora")) == ["alice 0.md", "alice 1.md"]
    for file in shared:
        await signed_in.execute(UNSHARE, ALICE, {"id": file["id"], "u": "bob"})
    assert await hits(signed_in, BOB, "fora") == ["foraxyz.md"]
