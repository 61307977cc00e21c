"""Search privacy (domain/search/README.md "Scoring"): scores, highlights, hasNextPage and
cursors leak nothing about files the viewer cannot read. Bob's whole answer — every edge,
score, highlight and cursor, and the page info — must not move when alice adds private files
that hold his query terms, or private files that would shift index-wide average field
lengths."""

from typing import Any

import pytest

from tests.support.schema_client import ADMIN, ALICE, BOB, SchemaClient
from tests.support.search import hits, search

SHARE = "mutation($id: ID!, $u: String!) { shareFile(id: $id, username: $u) { id } }"
# (query, first): single term, two terms, prefix, a term only in descriptions; small pages
# so hasNextPage and the end cursor are part of what is compared.
QUERIES = [("budget", 2), ("budget", 100), ("budget plan", 1), ("budg", 2), ("yearly", 5)]


@pytest.fixture
async def signed_in(client: SchemaClient) -> SchemaClient:
    for principal in (ALICE, BOB, ADMIN):
        await client.sign_in(principal)
    return client


async def _answers(client: SchemaClient) -> list[dict[str, Any]]:
    answers = []
    for q, first in QUERIES:
        result = await search(client, BOB, q, first=first)
        assert result.errors == [], result.errors
        answers.append(result.data["search"])
    return answers


@pytest.mark.local_only("dozens of uploads: over the CI budget on moto")
async def test_private_files_do_not_move_bobs_scores(signed_in: SchemaClient) -> None:
    await signed_in.upload(
        ALICE, name="budget plan.txt", description="yearly budget", visibility="PUBLIC"
    )
    await signed_in.upload(ALICE, name="budget 2024.xlsx", tags=["finance"], visibility="PUBLIC")
    shared = await signed_in.upload(ALICE, name="team budget notes.md", description="yearly")
    await signed_in.execute(SHARE, ALICE, {"id": shared["id"], "u": "bob"})
    await signed_in.upload(BOB, name="my budget.txt", description="a yearly plan for the budget")
    before = await _answers(signed_in)
    assert [len(a["edges"]) for a in before] == [2, 4, 1, 2, 3]
    assert before[0]["pageInfo"]["hasNextPage"] is True

    # Alice's private files: the same terms (document frequencies, N), a new completion of
    # the prefix, and long/short fields (average field lengths), plus one never completed.
    for n in range(6):
        await signed_in.upload(
            ALICE,
            name=f"budget plan private {n}.txt",
            tags=["budget", "yearly"],
            description="budget " * n + "yearly " + "filler words " * 20,
        )
    await signed_in.upload(ALICE, name="budgetary.txt", description="budgeting")
    for n in range(4):
        await signed_in.upload(ALICE, name=f"x{n}", description="long text " * 40)
    await signed_in.create_upload(ALICE, name="budget pending.txt")

    assert await _answers(signed_in) == before
    # The admin reads everything: alice's private files are found and ranked.
    everything = await hits(signed_in, ADMIN, "budget", first=100, types=["FILE"])
    assert len(everything) == 4 + 6 + 1  # "budget" is also a prefix: budgetary.txt
    assert all(f"budget plan private {n}.txt" in everything for n in range(6))
    assert "budget pending.txt" not in everything


async def test_private_completions_do_not_push_bobs_completion_out(
    signed_in: SchemaClient,
) -> None:
    """A prefix matches through its 10 most frequent completions: frequent among the
    files bob may read, not among alice's private ones."""
    markdown = "text/markdown"  # not "text/plain": "plain" would complete "pla" too
    await signed_in.upload(BOB, name="planxyz notes.md", contentType=markdown)
    await signed_in.upload(
        ALICE, name="planning 2024.md", contentType=markdown, visibility="PUBLIC"
    )
    queries = [("pla", 1), ("pla", 10), ("notes pla", 10)]
    before = [(await search(signed_in, BOB, q, first=first)).data["search"] for q, first in queries]
    assert sorted(e["node"]["name"] for e in before[1]["edges"]) == [
        "planning 2024.md",
        "planxyz notes.md",
    ]
    assert before[0]["pageInfo"]["hasNextPage"] is True

    # Ten completions, each in two of alice's private files: more frequent index-wide
    # than bob's "planxyz" and "planning" (one file each).
    completions = " ".join(f"plan{letter}" for letter in "abcdefghij")
    for n in range(2):
        await signed_in.upload(
            ALICE, name=f"alice {n}.md", contentType=markdown, description=completions
        )

    after = [(await search(signed_in, BOB, q, first=first)).data["search"] for q, first in queries]
    assert after == before
    # For alice they are the most frequent completions: her own files come first.
    assert sorted(await hits(signed_in, ALICE, "pla", first=20)) == ["alice 0.md", "alice 1.md"]
