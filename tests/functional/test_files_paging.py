"""myFiles, sharedWithMe and User.files as connections: newest first, complete paging with
signed cursors that only work where they were made, page sizes 1..100, and filters."""

from typing import Any

import pytest

from domain.models import Principal
from tests.support.schema_client import ADMIN, ALICE, BOB, SchemaClient, user_gid

# Local only for now: 25 uploads per case cost ~20 s a case on moto under load; paging on
# DynamoDB is proven by contract/test_item_store_query.py and integration/test_backward_paging.py.

MY_FILES = """query($first: Int, $after: String, $filter: FileFilter) {
  myFiles(first: $first, after: $after, filter: $filter) {
    edges { cursor node { name } }
    pageInfo { hasNextPage endCursor }
  }
}"""
SHARED_WITH_ME = """query($first: Int, $after: String) {
  sharedWithMe(first: $first, after: $after) {
    edges { cursor node { name } }
    pageInfo { hasNextPage endCursor }
  }
}"""
USER_FILES = """query($id: ID!, $first: Int, $after: String) {
  user(id: $id) {
    files(first: $first, after: $after) {
      edges { cursor node { name } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""
SHARE = "mutation($id: ID!, $u: String!) { shareFile(id: $id, username: $u) { id } }"
DELETE = "mutation($id: ID!) { deleteFile(id: $id) }"


@pytest.fixture
async def twenty_five(client: SchemaClient) -> list[str]:
    """Alice's files f00..f24 (one second apart) — ids, oldest first."""
    await client.sign_in(ALICE)
    await client.sign_in(BOB)
    return [(await client.upload(ALICE, name=f"f{i:02d}.txt"))["id"] for i in range(25)]


def newest_first(count: int) -> list[str]:
    return [f"f{i:02d}.txt" for i in reversed(range(count))]


async def my_files(
    client: SchemaClient, principal: Principal = ALICE, **variables: Any
) -> dict[str, Any]:
    result = await client.execute(MY_FILES, principal, variables)
    assert result.errors == [], result.errors
    connection: dict[str, Any] = result.data["myFiles"]
    return connection


def flat(pages: list[list[str]]) -> list[str]:
    return [name for page in pages for name in page]


def names(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["name"] for edge in connection["edges"]]


async def page_through(client: SchemaClient, first: int, **variables: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    after = None
    while True:
        connection = await my_files(client, first=first, after=after, **variables)
        page_info = connection["pageInfo"]
        pages.append(names(connection))
        if connection["edges"]:
            assert page_info["endCursor"] == connection["edges"][-1]["cursor"]
        if not page_info["hasNextPage"]:
            return pages
        assert len(pages) < 50, "paging did not end"
        after = page_info["endCursor"]


async def test_my_files_pages_newest_first_without_gaps_or_repeats(
    client: SchemaClient, twenty_five: list[str]
) -> None:
    pages = await page_through(client, 10)
    assert [len(page) for page in pages] == [10, 10, 5]
    assert flat(pages) == newest_first(25)
    assert await page_through(client, 25) == [newest_first(25)]
    assert flat(await page_through(client, 1)) == newest_first(25)


async def test_the_default_page_is_20(client: SchemaClient, twenty_five: list[str]) -> None:
    connection = await my_files(client)
    assert names(connection) == newest_first(25)[:20]
    assert connection["pageInfo"]["hasNextPage"] is True


async def test_a_last_page_says_there_is_no_next(client: SchemaClient) -> None:
    await client.sign_in(ALICE)
    empty = await my_files(client)
    assert empty == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
    await client.upload(ALICE, name="only.txt")
    one = await my_files(client, first=1)
    assert one["pageInfo"] == {"hasNextPage": False, "endCursor": one["edges"][0]["cursor"]}
    after_it = await my_files(client, first=1, after=one["pageInfo"]["endCursor"])
    assert after_it["edges"] == []
    assert after_it["pageInfo"]["hasNextPage"] is False


async def test_every_edge_cursor_resumes_right_after_its_file(
    client: SchemaClient, twenty_five: list[str]
) -> None:
    page = await my_files(client, first=10)
    for index, edge in enumerate(page["edges"]):
        rest = await my_files(client, first=100, after=edge["cursor"])
        assert names(rest) == newest_first(25)[index + 1 :], index

    second = await my_files(client, first=10, after=page["pageInfo"]["endCursor"])
    middle = second["edges"][4]  # f10, on a page that itself began at a cursor
    assert names(await my_files(client, first=3, after=middle["cursor"])) == [
        "f09.txt",
        "f08.txt",
        "f07.txt",
    ]


async def test_edge_cursors_stay_exact_when_earlier_files_are_deleted(
    client: SchemaClient, twenty_five: list[str]
) -> None:
    page = await my_files(client, first=10)
    cursor_after_f19 = page["edges"][5]["cursor"]
    for index in (24, 22, 20):  # three files listed before f19 go away
        result = await client.execute(DELETE, ALICE, {"id": twenty_five[index]})
        assert result.errors == []
    assert names(await my_files(client, first=2, after=cursor_after_f19)) == [
        "f18.txt",
        "f17.txt",
    ]


async def test_end_cursor_is_exact_even_when_its_file_is_deleted(
    client: SchemaClient, twenty_five: list[str]
) -> None:
    page = await my_files(client, first=10)
    assert names(page)[-1] == "f15.txt"
    result = await client.execute(DELETE, ALICE, {"id": twenty_five[15]})
    assert result.errors == []
    next_page = await my_files(client, first=3, after=page["pageInfo"]["endCursor"])
    assert names(next_page) == ["f14.txt", "f13.txt", "f12.txt"]


@pytest.mark.parametrize("first", [0, -1, 101])
async def test_page_size_must_be_1_to_100(client: SchemaClient, first: int | None) -> None:
    await client.sign_in(ALICE)
    cases: list[tuple[str, dict[str, Any]]] = [
        (MY_FILES, {"first": first}),
        (SHARED_WITH_ME, {"first": first}),
        (USER_FILES, {"first": first, "id": user_gid(ALICE)}),
    ]
    for query, variables in cases:
        result = await client.execute(query, ALICE, variables)
        assert result.codes == ["BAD_USER_INPUT"], query


def tampered(cursor: str) -> list[str]:
    version, payload, mac = cursor.split(".")
    flipped = "A" if mac[0] != "A" else "B"
    return [
        f"{version}.{payload}.{flipped}{mac[1:]}",
        f"{version}.{payload[:-2]}.{mac}",
        cursor + "x",
        "c1..",
        "",
        "garbage",
    ]


async def test_a_tampered_cursor_is_refused(client: SchemaClient, twenty_five: list[str]) -> None:
    cursor = (await my_files(client, first=5))["pageInfo"]["endCursor"]
    for bad in tampered(cursor):
        result = await client.execute(MY_FILES, ALICE, {"first": 5, "after": bad})
        assert result.codes == ["BAD_USER_INPUT"], bad
        assert result.data is None


async def test_a_cursor_only_works_in_its_own_query_for_its_own_viewer_and_filter(
    client: SchemaClient, twenty_five: list[str]
) -> None:
    cursor = (await my_files(client, first=5))["pageInfo"]["endCursor"]
    elsewhere = [
        (MY_FILES, BOB, {"after": cursor}),
        (MY_FILES, ADMIN, {"after": cursor}),
        (MY_FILES, ALICE, {"after": cursor, "filter": {"status": "READY"}}),
        (SHARED_WITH_ME, ALICE, {"after": cursor}),
        (USER_FILES, ALICE, {"after": cursor, "id": user_gid(ALICE)}),
    ]
    await client.sign_in(ADMIN)
    for query, viewer, variables in elsewhere:
        result = await client.execute(query, viewer, variables)
        assert result.codes == ["BAD_USER_INPUT"], (viewer.username, variables)
        assert result.errors[0]["message"] == "Invalid cursor"

    user_cursor = (
        await client.execute(USER_FILES, ALICE, {"id": user_gid(ALICE), "first": 5})
    ).data["user"]["files"]["pageInfo"]["endCursor"]
    other_user = await client.execute(
        USER_FILES, ALICE, {"id": user_gid(BOB), "after": user_cursor}
    )
    assert other_user.codes == ["BAD_USER_INPUT"]
    in_my_files = await client.execute(MY_FILES, ALICE, {"after": user_cursor})
    assert in_my_files.codes == ["BAD_USER_INPUT"]


async def test_filters_narrow_my_files_across_pages(client: SchemaClient) -> None:
    await client.sign_in(ALICE)
    expected: dict[str, list[str]] = {"image": [], "tax": [], "pending": []}
    for i in range(30):
        name = f"f{i:02d}"
        if i % 3 == 0:
            await client.upload(ALICE, name=name, contentType="image/png", tags=["Tax"])
            expected["image"].insert(0, name)
            expected["tax"].insert(0, name)
        elif i % 3 == 1:
            await client.upload(ALICE, name=name, tags=["work"])
        else:
            client.clock.advance(1)
            await client.create_upload(ALICE, name=name)
            expected["pending"].insert(0, name)

    for file_filter, wanted in [
        ({"contentTypePrefix": "Image/"}, expected["image"]),
        ({"tag": " TAX "}, expected["tax"]),
        ({"status": "PENDING"}, expected["pending"]),
        ({"status": "READY", "tag": "tax"}, expected["tax"]),
        ({"status": "PENDING", "tag": "tax"}, []),
    ]:
        pages = await page_through(client, 3, filter=file_filter)
        assert flat(pages) == wanted, file_filter
        assert all(len(page) == 3 for page in pages[:-1]), file_filter


async def test_an_invalid_filter_is_bad_input(client: SchemaClient) -> None:
    await client.sign_in(ALICE)
    for bad in ({"tag": ""}, {"tag": "x" * 51}, {"contentTypePrefix": "x" * 256}):
        result = await client.execute(MY_FILES, ALICE, {"filter": bad})
        assert result.codes == ["BAD_USER_INPUT"], bad


async def test_shared_with_me_pages_most_recently_shared_first(client: SchemaClient) -> None:
    await client.sign_in(ALICE)
    await client.sign_in(BOB)
    ids = [(await client.upload(ALICE, name=f"f{i}.txt"))["id"] for i in range(7)]
    for file_id in reversed(ids):  # shared newest file first: f0 is the latest share
        client.clock.advance(1)
        assert (await client.execute(SHARE, ALICE, {"id": file_id, "u": "bob"})).errors == []

    seen: list[str] = []
    after = None
    while True:
        result = await client.execute(SHARED_WITH_ME, BOB, {"first": 3, "after": after})
        connection = result.data["sharedWithMe"]
        seen += names(connection)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == [f"f{i}.txt" for i in range(7)]


async def test_user_files_pages_only_what_the_viewer_may_read(client: SchemaClient) -> None:
    await client.sign_in(ALICE)
    await client.sign_in(BOB)
    for i in range(12):
        await client.upload(ALICE, name=f"f{i:02d}", visibility="PUBLIC" if i % 2 else "PRIVATE")
    seen: list[str] = []
    after = None
    while True:
        result = await client.execute(
            USER_FILES, BOB, {"id": user_gid(ALICE), "first": 2, "after": after}
        )
        connection = result.data["user"]["files"]
        seen += names(connection)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == [f"f{i:02d}" for i in (11, 9, 7, 5, 3, 1)]


RELAY_PAGE = """query($first: Int, $after: String) {
  myFiles(first: $first, after: $after) {
    edges { cursor node { name } }
    pageInfo { hasPreviousPage hasNextPage startCursor endCursor }
  }
}"""


async def test_page_info_has_the_four_relay_fields(
    client: SchemaClient, twenty_five: list[str]
) -> None:
    result = await client.execute(RELAY_PAGE, ALICE, {"first": 10})
    assert result.errors == []
    page = result.data["myFiles"]
    info = page["pageInfo"]
    assert info["startCursor"] == page["edges"][0]["cursor"]
    assert info["endCursor"] == page["edges"][-1]["cursor"]
    # Paging forward, the spec lets a server that cannot tell cheaply answer false.
    assert info["hasPreviousPage"] is False
    # startCursor is a real cursor: resuming after it skips exactly the first edge.
    resumed = await client.execute(RELAY_PAGE, ALICE, {"first": 3, "after": info["startCursor"]})
    assert names(resumed.data["myFiles"]) == newest_first(25)[1:4]
    empty = await client.execute(RELAY_PAGE, BOB, {"first": 5})
    assert empty.data["myFiles"]["pageInfo"] == {
        "hasPreviousPage": False,
        "hasNextPage": False,
        "startCursor": None,
        "endCursor": None,
    }
