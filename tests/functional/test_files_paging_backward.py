"""Paging backward (Relay's ``last``/``before``) through myFiles, sharedWithMe and
User.files: the same records as paging forward, exact cursors in both directions, one
direction per request, and the same store calls as a forward page."""

from typing import Any

import pytest

from domain.models import Principal
from tests.support.schema_client import ALICE, BOB, SchemaClient, user_gid
from tests.support.stores import CountingItemStore

# Local only for now: 25 uploads per case cost ~20 s a case on moto under load; paging on
# DynamoDB is proven by contract/test_item_store_query.py and integration/test_backward_paging.py.

PAGE_INFO = "pageInfo { hasPreviousPage hasNextPage startCursor endCursor }"
MY_FILES = f"""query($first: Int, $after: String, $last: Int, $before: String,
                    $filter: FileFilter) {{
  myFiles(first: $first, after: $after, last: $last, before: $before, filter: $filter) {{
    edges {{ cursor node {{ name }} }}
    {PAGE_INFO}
  }}
}}"""
SHARED_WITH_ME = f"""query($first: Int, $after: String, $last: Int, $before: String) {{
  sharedWithMe(first: $first, after: $after, last: $last, before: $before) {{
    edges {{ cursor node {{ name }} }}
    {PAGE_INFO}
  }}
}}"""
USER_FILES = f"""query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {{
  user(id: $id) {{
    files(first: $first, after: $after, last: $last, before: $before) {{
      edges {{ cursor node {{ name }} }}
      {PAGE_INFO}
    }}
  }}
}}"""
SHARE = "mutation($id: ID!, $u: String!) { shareFile(id: $id, username: $u) { id } }"
DELETE = "mutation($id: ID!) { deleteFile(id: $id) }"


def newest_first(count: int) -> list[str]:
    return [f"f{i:02d}.txt" for i in reversed(range(count))]


def names(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["name"] for edge in connection["edges"]]


@pytest.fixture
async def twenty_five(client: SchemaClient) -> list[str]:
    """Alice's files f00..f24 (one second apart) — ids, oldest first."""
    await client.sign_in(ALICE)
    await client.sign_in(BOB)
    return [(await client.upload(ALICE, name=f"f{i:02d}.txt"))["id"] for i in range(25)]


async def my_files(
    client: SchemaClient, principal: Principal = ALICE, **variables: Any
) -> dict[str, Any]:
    result = await client.execute(MY_FILES, principal, variables)
    assert result.errors == [], result.errors
    connection: dict[str, Any] = result.data["myFiles"]
    return connection


async def page_backward(
    client: SchemaClient, last: int, before: str | None = None, **variables: Any
) -> list[list[str]]:
    """Pages from the end (or ``before``) to the start, in the order they were asked for."""
    pages: list[list[str]] = []
    while True:
        connection = await my_files(client, last=last, before=before, **variables)
        info = connection["pageInfo"]
        pages.append(names(connection))
        if connection["edges"]:
            assert info["startCursor"] == connection["edges"][0]["cursor"]
            assert info["endCursor"] == connection["edges"][-1]["cursor"]
        assert info["hasNextPage"] is False  # the spec's answer when it cannot tell cheaply
        if not info["hasPreviousPage"]:
            return pages
        assert len(pages) < 50, "paging did not end"
        before = info["startCursor"]


def joined_backward(pages: list[list[str]]) -> list[str]:
    return [name for page in reversed(pages) for name in page]


@pytest.mark.parametrize("last", [1, 4, 25, 100])
async def test_paging_backward_from_the_end_lists_every_file_once_in_order(
    client: SchemaClient, twenty_five: list[str], last: int
) -> None:
    pages = await page_backward(client, last)

    assert joined_backward(pages) == newest_first(25)
    # Each page is the last ``last`` before the previous one, in listing order.
    assert pages[0] == newest_first(25)[-last:]
    assert all(len(page) == last for page in pages[:-1])


async def test_before_a_forward_cursor_lists_exactly_the_files_before_it(
    client: SchemaClient, twenty_five: list[str]
) -> None:
    forward = await my_files(client, first=10)
    onward = await my_files(client, first=10, after=forward["pageInfo"]["endCursor"])
    edges = forward["edges"] + onward["edges"]
    for index, edge in enumerate(edges):
        before = await my_files(client, last=100, before=edge["cursor"])
        assert names(before) == newest_first(25)[:index], index
        assert before["pageInfo"]["hasPreviousPage"] is False
    # The page before the second forward page is exactly the first one, with its cursors.
    back = await my_files(client, last=10, before=onward["pageInfo"]["startCursor"])
    assert back["edges"] == forward["edges"]
    assert back["pageInfo"]["hasPreviousPage"] is False
    # And the other way round: after a backward page's endCursor comes what followed it.
    again = await my_files(client, first=10, after=back["pageInfo"]["endCursor"])
    assert again["edges"] == onward["edges"]


async def test_has_previous_page_says_whether_more_come_before(
    client: SchemaClient, twenty_five: list[str]
) -> None:
    tail = await my_files(client, last=5)
    assert names(tail) == newest_first(25)[-5:]
    assert tail["pageInfo"]["hasPreviousPage"] is True
    head = await my_files(client, last=25)
    assert head["pageInfo"]["hasPreviousPage"] is False
    nothing = await my_files(client, last=5, before=head["pageInfo"]["startCursor"])
    assert nothing["edges"] == []
    assert nothing["pageInfo"] == {
        "hasPreviousPage": False,
        "hasNextPage": False,
        "startCursor": None,
        "endCursor": None,
    }


async def test_backward_cursors_stay_exact_when_their_file_and_neighbours_are_deleted(
    client: SchemaClient, twenty_five: list[str]
) -> None:
    page = await my_files(client, last=5, before=None)  # f04..f00
    assert names(page) == newest_first(5)
    start = page["pageInfo"]["startCursor"]  # names f04
    for index in (4, 5, 7):
        assert (await client.execute(DELETE, ALICE, {"id": twenty_five[index]})).errors == []
    back = await my_files(client, last=3, before=start)
    assert names(back) == ["f09.txt", "f08.txt", "f06.txt"]


async def test_backward_pages_hold_no_duplicates_and_no_gaps_under_inserts(
    client: SchemaClient, twenty_five: list[str]
) -> None:
    """New files land at the newest end while a client pages backward towards it: every
    file that existed throughout is listed exactly once, and the newcomers are listed
    in their place ahead of it."""
    seen: list[str] = []
    before = None
    for round_ in range(50):
        connection = await my_files(client, last=4, before=before)
        seen = names(connection) + seen
        await client.upload(ALICE, name=f"new{round_:02d}.txt")  # newest of all
        if not connection["pageInfo"]["hasPreviousPage"]:
            break
        before = connection["pageInfo"]["startCursor"]

    originals = [name for name in seen if name.startswith("f")]
    assert originals == newest_first(25)
    assert len(seen) == len(set(seen))
    newcomers = [name for name in seen if name.startswith("new")]
    assert newcomers == sorted(newcomers, reverse=True) and newcomers
    assert seen == newcomers + originals  # newest first, as the listing orders them


async def test_a_filter_pages_backward_like_forward(client: SchemaClient) -> None:
    await client.sign_in(ALICE)
    for i in range(30):
        await client.upload(ALICE, name=f"f{i:02d}.txt", tags=["even"] if i % 2 == 0 else [])
    expected = [f"f{i:02d}.txt" for i in reversed(range(0, 30, 2))]
    for last in (1, 3, 15):
        pages = await page_backward(client, last, filter={"tag": "even"})
        assert joined_backward(pages) == expected, last


async def test_shared_with_me_pages_backward(client: SchemaClient) -> None:
    await client.sign_in(ALICE)
    await client.sign_in(BOB)
    ids = [(await client.upload(ALICE, name=f"f{i}.txt"))["id"] for i in range(7)]
    for file_id in reversed(ids):  # shared newest file first: f0 is the latest share
        client.clock.advance(1)
        assert (await client.execute(SHARE, ALICE, {"id": file_id, "u": "bob"})).errors == []

    seen: list[str] = []
    before = None
    while True:
        result = await client.execute(SHARED_WITH_ME, BOB, {"last": 3, "before": before})
        assert result.errors == []
        connection = result.data["sharedWithMe"]
        seen = names(connection) + seen
        if not connection["pageInfo"]["hasPreviousPage"]:
            break
        before = connection["pageInfo"]["startCursor"]
    assert seen == [f"f{i}.txt" for i in range(7)]


async def test_user_files_page_backward_over_only_what_the_viewer_may_read(
    client: SchemaClient,
) -> None:
    await client.sign_in(ALICE)
    await client.sign_in(BOB)
    # Newest first: f12 PRIVATE, f11 PUBLIC, ...; the oldest, f00, is PRIVATE.
    for i in range(13):
        await client.upload(ALICE, name=f"f{i:02d}", visibility="PUBLIC" if i % 2 else "PRIVATE")
    seen: list[str] = []
    before = None
    while True:
        variables = {"id": user_gid(ALICE), "last": 2, "before": before}
        result = await client.execute(USER_FILES, BOB, variables)
        assert result.errors == []
        connection = result.data["user"]["files"]
        seen = names(connection) + seen
        if not connection["pageInfo"]["hasPreviousPage"]:
            break
        before = connection["pageInfo"]["startCursor"]
    assert seen == [f"f{i:02d}" for i in (11, 9, 7, 5, 3, 1)]
    # The newest readable file is f11; only a PRIVATE one precedes it, which must not
    # show through as "there is a previous page".
    head = await client.execute(USER_FILES, BOB, {"id": user_gid(ALICE), "last": 6})
    assert head.data["user"]["files"]["pageInfo"]["hasPreviousPage"] is False


MIXED = [
    {"first": 2, "last": 2},
    {"first": 2, "before": "x"},
    {"last": 2, "after": "x"},
    {"after": "x", "before": "x"},
    {"last": 0},
    {"last": 101},
    {"last": -1},
]


@pytest.mark.parametrize("variables", MIXED, ids=lambda v: ",".join(f"{k}={v[k]}" for k in v))
async def test_mixing_directions_or_a_bad_last_is_bad_user_input(
    client: SchemaClient, twenty_five: list[str], variables: dict[str, Any]
) -> None:
    cases = [
        (MY_FILES, variables, "myFiles"),
        (SHARED_WITH_ME, variables, "sharedWithMe"),
        (USER_FILES, {**variables, "id": user_gid(ALICE)}, "user"),
    ]
    for query, case, field in cases:
        result = await client.execute(query, ALICE, case)
        assert result.codes == ["BAD_USER_INPUT"], (field, result.errors)


async def test_null_arguments_count_as_absent(client: SchemaClient, twenty_five: list[str]) -> None:
    """Relay's generated pagination queries send the other direction's arguments as null."""
    backward = await my_files(client, first=None, after=None, last=3, before=None)
    assert names(backward) == newest_first(25)[-3:]
    forward = await my_files(client, first=3, after=None, last=None, before=None)
    assert names(forward) == newest_first(25)[:3]
    default = await my_files(client, first=None, after=None, last=None, before=None)
    assert names(default) == newest_first(25)[:20]


async def test_a_backward_cursor_only_works_in_its_own_query_and_for_its_viewer(
    client: SchemaClient, twenty_five: list[str]
) -> None:
    cursor = (await my_files(client, last=3))["pageInfo"]["startCursor"]
    other_query = await client.execute(SHARED_WITH_ME, ALICE, {"last": 3, "before": cursor})
    other_viewer = await client.execute(MY_FILES, BOB, {"last": 3, "before": cursor})
    other_filter = await client.execute(
        MY_FILES, ALICE, {"last": 3, "before": cursor, "filter": {"tag": "x"}}
    )
    for result in (other_query, other_viewer, other_filter):
        assert result.codes == ["BAD_USER_INPUT"]


COUNTED = (
    "query($first: Int, $after: String, $last: Int, $before: String) { myFiles("
    "first: $first, after: $after, last: $last, before: $before) "
    "{ edges { cursor node { name owner { username } } } " + PAGE_INFO + " } }"
)


@pytest.mark.parametrize("size", [1, 10, 40])
async def test_a_backward_page_costs_the_same_store_calls_as_a_forward_one(size: int) -> None:
    client = SchemaClient(wrap_store=CountingItemStore)
    store = client.items
    assert isinstance(store, CountingItemStore)
    await client.sign_in(ALICE)
    for i in range(100):
        await client.upload(ALICE, name=f"f{i:03d}.txt")
    middle = await client.execute(COUNTED, ALICE, {"first": 50})
    cursor = middle.data["myFiles"]["pageInfo"]["endCursor"]

    costs: dict[str, dict[str, int]] = {}
    for name, variables in {
        "forward": {"first": size, "after": cursor},
        "backward": {"last": size, "before": cursor},
        "forward-from-start": {"first": size},
        "backward-from-end": {"last": size},
    }.items():
        store.calls.clear()
        result = await client.execute(COUNTED, ALICE, variables)
        assert result.errors == []
        assert len(result.data["myFiles"]["edges"]) == size
        costs[name] = dict(store.calls)

    # The listing items (read consistently from the table), their metas in one batch, and
    # the owners in another: the same in either direction.
    assert costs["forward"] == costs["backward"] == {"query": 1, "get_many": 2}
    assert costs["forward-from-start"] == costs["backward-from-end"] == costs["forward"]
