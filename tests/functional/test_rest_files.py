"""The /rest file routes over the whole app: create, send bytes, complete, read with an ETag,
update and delete under If-Match (412 when stale), download as a 302 to a fresh URL whose
bytes are the upload's, and revocation by unsharing."""

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from domain.ids import to_global_id
from tests.support.rest import Rest, assert_error, open_rest

SHARE = "mutation($id: ID!, $u: String!) { shareFile(id: $id, username: $u) { version } }"
UNSHARE = "mutation($id: ID!, $u: String!) { unshareFile(id: $id, username: $u) { version } }"


@pytest.fixture(params=["local", pytest.param("aws", marks=pytest.mark.slow)])
async def rest(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Rest]:
    """Every case on both compositions: local, and DynamoDB + S3 + Cognito."""
    async with open_rest(tmp_path, request.param) as rest:
        yield rest


async def test_create_complete_get_and_list(rest: Rest) -> None:
    alice = await rest.auth("alice")
    created = await rest.http.post(
        "/rest/files",
        json={"name": "a.txt", "contentType": "text/plain", "size": 3, "tags": ["x"]},
        headers=alice,
    )
    assert created.status_code == 201, created.text
    file = created.json()["file"]
    assert (file["status"], file["tags"], file["owner"]["username"]) == ("PENDING", ["x"], "alice")
    assert created.headers["location"] == f"/rest/files/{file['id']}"
    assert set(created.json()["upload"]) == {"url", "method", "fields", "headers", "expiresAt"}

    ready = await rest.upload(alice, b"bytes of b", name="b.txt")
    got = await rest.http.get(f"/rest/files/{ready['id']}", headers=alice)
    assert got.status_code == 200
    assert got.json() == ready
    # The version (what If-Match conditions on), then a digest of the viewer and the answer.
    assert got.headers["etag"].startswith(f'"{ready["version"]}-')

    page = await rest.http.get("/rest/files", params={"first": 1}, headers=alice)
    assert page.status_code == 200, page.text
    assert len(page.json()["items"]) == 1 and page.json()["pageInfo"]["hasNextPage"] is True
    after = page.json()["pageInfo"]["endCursor"]
    rest_page = await rest.http.get("/rest/files", params={"after": after}, headers=alice)
    ids = {f["id"] for f in page.json()["items"] + rest_page.json()["items"]}
    assert ids == {file["id"], ready["id"]}


async def test_patch_honours_if_match_and_answers_412_when_stale(rest: Rest) -> None:
    alice = await rest.auth("alice")
    ready = await rest.upload(alice)
    url = f"/rest/files/{ready['id']}"
    version = ready["version"]

    renamed = await rest.http.patch(
        url, json={"name": "new.txt"}, headers={**alice, "If-Match": f'"{version}"'}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "new.txt"
    assert renamed.json()["version"] == version + 1
    assert renamed.headers["etag"].startswith(f'"{version + 1}-')

    stale = await rest.http.patch(
        url, json={"name": "lost.txt"}, headers={**alice, "If-Match": str(version)}
    )
    assert_error(stale, 412, "CONFLICT")
    plain = await rest.http.patch(
        url, json={"tags": ["t"]}, headers={**alice, "If-Match": str(version + 1)}
    )
    assert plain.status_code == 200 and plain.json()["tags"] == ["t"]
    # Without If-Match the write is unconditional.
    assert (await rest.http.patch(url, json={"description": "d"}, headers=alice)).is_success
    assert (await rest.http.get(url, headers=alice)).json()["name"] == "new.txt"


@pytest.mark.parametrize("if_match", ['W/"1"', "abc", '"1", "2"', '"1'])
async def test_weak_or_malformed_if_match_is_400(rest: Rest, if_match: str) -> None:
    alice = await rest.auth("alice")
    ready = await rest.upload(alice)
    response = await rest.http.patch(
        f"/rest/files/{ready['id']}", json={"name": "x"}, headers={**alice, "If-Match": if_match}
    )
    assert_error(response, 400, "BAD_USER_INPUT")
    assert (await rest.http.get(f"/rest/files/{ready['id']}", headers=alice)).json() == ready


async def test_delete_honours_if_match(rest: Rest) -> None:
    alice = await rest.auth("alice")
    ready = await rest.upload(alice)
    url = f"/rest/files/{ready['id']}"
    stale = await rest.http.delete(url, headers={**alice, "If-Match": str(ready["version"] - 1)})
    assert_error(stale, 412, "CONFLICT")
    assert (await rest.http.get(url, headers=alice)).status_code == 200
    deleted = await rest.http.delete(url, headers={**alice, "If-Match": f'"{ready["version"]}"'})
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(await rest.http.get(url, headers=alice), 404, "NOT_FOUND")
    assert_error(await rest.http.delete(url, headers=alice), 404, "NOT_FOUND")


async def test_download_redirects_to_a_fresh_url_with_the_bytes(rest: Rest) -> None:
    alice = await rest.auth("alice")
    content = bytes(range(256)) * 40
    ready = await rest.upload(alice, content, name="data.bin", contentType="application/x-bin")
    first = await rest.http.get(f"/rest/files/{ready['id']}/download", headers=alice)
    assert first.status_code == 302, first.text
    assert first.headers["cache-control"] == "no-store"
    location = first.headers["location"]
    assert urlsplit(location).path.startswith(rest.blob_path_prefix)
    # Followed without the API's credentials, as a browser following a redirect to a store.
    bytes_ = await rest.fetch(location)
    assert bytes_.status_code == 200 and bytes_.content == content
    second = await rest.http.get(f"/rest/files/{ready['id']}/download", headers=alice)
    assert second.status_code == 302 and second.headers["location"] != "", second.text


async def test_unsharing_revokes_the_download_route(rest: Rest) -> None:
    alice, bob = await rest.auth("alice"), await rest.auth("bob")
    ready = await rest.upload(alice)
    download = f"/rest/files/{ready['id']}/download"
    assert_error(await rest.http.get(download, headers=bob), 404, "NOT_FOUND")

    await rest.graphql(alice, SHARE, {"id": ready["id"], "u": "bob"})
    shared = await rest.http.get(download, headers=bob)
    assert shared.status_code == 302
    assert (await rest.fetch(shared.headers["location"])).content == b"hello rest"
    # Bob may read but not change it.
    patched = await rest.http.patch(f"/rest/files/{ready['id']}", json={"name": "m"}, headers=bob)
    assert_error(patched, 403, "FORBIDDEN")

    await rest.graphql(alice, UNSHARE, {"id": ready["id"], "u": "bob"})
    assert_error(await rest.http.get(download, headers=bob), 404, "NOT_FOUND")
    assert_error(await rest.http.get(f"/rest/files/{ready['id']}", headers=bob), 404, "NOT_FOUND")


async def test_download_of_a_pending_file_is_409(rest: Rest) -> None:
    alice = await rest.auth("alice")
    created = await rest.http.post(
        "/rest/files", json={"name": "p.txt", "contentType": "text/plain", "size": 4}, headers=alice
    )
    file_id = created.json()["file"]["id"]
    assert_error(
        await rest.http.get(f"/rest/files/{file_id}/download", headers=alice), 409, "CONFLICT"
    )
    # Completing before the bytes arrived: the schema's BAD_USER_INPUT, as a 400.
    early = await rest.http.post(f"/rest/files/{file_id}/complete", headers=alice)
    assert_error(early, 400, "BAD_USER_INPUT")


async def test_missing_file_is_404_everywhere(rest: Rest) -> None:
    alice = await rest.auth("alice")
    nope = quote(to_global_id("File", "f-00000000000000000000000000"), safe="")
    for method, path in [
        ("GET", f"/rest/files/{nope}"),
        ("GET", f"/rest/files/{nope}/download"),
        ("DELETE", f"/rest/files/{nope}"),
        ("POST", f"/rest/files/{nope}/complete"),
    ]:
        response = await rest.http.request(method, path, headers=alice)
        assert_error(response, 404, "NOT_FOUND")
    assert_error(
        await rest.http.patch(f"/rest/files/{nope}", json={"name": "x"}, headers=alice),
        404,
        "NOT_FOUND",
    )
    # An id that is not one of ours at all: the schema's BAD_USER_INPUT.
    assert_error(await rest.http.get("/rest/files/nope", headers=alice), 400, "BAD_USER_INPUT")


async def test_listing_pages_backward_with_last_and_before(rest: Rest) -> None:
    alice = await rest.auth("alice")
    made = [(await rest.upload(alice, b"x", name=f"f{i}.txt"))["id"] for i in range(5)]
    newest_first = made[::-1]

    tail = await rest.http.get("/rest/files", params={"last": 2}, headers=alice)
    assert tail.status_code == 200, tail.text
    assert [f["id"] for f in tail.json()["items"]] == newest_first[-2:]
    info = tail.json()["pageInfo"]
    assert (info["hasPreviousPage"], info["hasNextPage"]) == (True, False)
    seen = [f["id"] for f in tail.json()["items"]]
    before = info["startCursor"]
    while True:
        page = await rest.http.get(
            "/rest/files", params={"last": 2, "before": before}, headers=alice
        )
        assert page.status_code == 200, page.text
        seen = [f["id"] for f in page.json()["items"]] + seen
        if not page.json()["pageInfo"]["hasPreviousPage"]:
            break
        before = page.json()["pageInfo"]["startCursor"]
    assert seen == newest_first

    # A forward page's cursor works as ``before`` too.
    forward = await rest.http.get("/rest/files", params={"first": 3}, headers=alice)
    end = forward.json()["pageInfo"]["endCursor"]
    back = await rest.http.get("/rest/files", params={"last": 5, "before": end}, headers=alice)
    assert [f["id"] for f in back.json()["items"]] == newest_first[:2]


@pytest.mark.parametrize(
    "query",
    ["first=2&last=2", "first=2&before=x", "last=2&after=x", "last=two", "last=0", "last=101"],
)
async def test_listing_refuses_mixed_directions_and_bad_last(rest: Rest, query: str) -> None:
    alice = await rest.auth("alice")
    await rest.upload(alice, b"x", name="a.txt")
    assert_error(await rest.http.get(f"/rest/files?{query}", headers=alice), 400, "BAD_USER_INPUT")


@pytest.mark.parametrize("query", ["last=2", "before=x"])
async def test_ranked_search_stays_forward_only(rest: Rest, query: str) -> None:
    alice = await rest.auth("alice")
    response = await rest.http.get(f"/rest/search?q=a&{query}", headers=alice)
    assert_error(response, 400, "BAD_USER_INPUT")
