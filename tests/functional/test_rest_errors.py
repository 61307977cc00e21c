"""The /rest status mapping: 401 with WWW-Authenticate, 400 for bad JSON and wrong types,
413 for big bodies, 404 for nulls and unknown routes, 500 masked; plus profile and search."""

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest

from api.rest import MAX_BODY_BYTES
from domain.files import FileService
from domain.ids import to_global_id
from tests.support.rest import Rest, assert_error, open_rest


@pytest.fixture(params=["local", pytest.param("aws", marks=pytest.mark.slow)])
async def rest(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Rest]:
    """Every case on both compositions: local, and DynamoDB + S3 + Cognito."""
    async with open_rest(tmp_path, request.param) as rest:
        yield rest


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/rest/me"), ("GET", "/rest/files"), ("POST", "/rest/files/x/complete")],
)
async def test_anonymous_is_401_with_www_authenticate(rest: Rest, method: str, path: str) -> None:
    response = await rest.http.request(method, path)
    assert_error(response, 401, "UNAUTHENTICATED")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_bad_token_is_401(rest: Rest) -> None:
    for header in ("Bearer not-a-jwt", "Basic YWxpY2U6cHc="):
        response = await rest.http.get("/rest/me", headers={"Authorization": header})
        assert_error(response, 401, "UNAUTHENTICATED")
        assert response.headers["www-authenticate"] == "Bearer"


async def test_me_and_users(rest: Rest) -> None:
    alice, bob = await rest.auth("alice"), await rest.auth("bob")
    me = await rest.http.get("/rest/me", headers=alice)
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    bob_id = (await rest.http.get("/rest/me", headers=bob)).json()["id"]
    seen = await rest.http.get(f"/rest/users/{bob_id}", headers=alice)
    assert seen.status_code == 200
    # The schema's rule, not a copy of it: others' email and groups stay hidden.
    assert (seen.json()["username"], seen.json()["email"], seen.json()["groups"]) == (
        "bob",
        None,
        [],
    )
    missing = quote(to_global_id("User", "u-nobody"), safe="")
    assert_error(await rest.http.get(f"/rest/users/{missing}", headers=alice), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "message_part"),
    [
        (b"{not json", "valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"size": NaN}', "valid JSON"),
    ],
)
async def test_invalid_json_is_400(rest: Rest, body: bytes, message_part: str) -> None:
    alice = await rest.auth("alice")
    headers = {**alice, "content-type": "application/json"}
    response = await rest.http.post("/rest/files", content=body, headers=headers)
    assert message_part in assert_error(response, 400, "BAD_USER_INPUT")["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "a", "contentType": "text/plain", "size": "three"},
        {"name": "a", "contentType": "text/plain"},
        {"name": 5, "contentType": "text/plain", "size": 3},
        {"name": "a", "contentType": "text/plain", "size": 3, "owner": "bob"},
        {"name": "a", "contentType": "text/plain", "size": 3, "visibility": "SECRET"},
    ],
)
async def test_wrong_types_are_400(rest: Rest, body: dict[str, object]) -> None:
    alice = await rest.auth("alice")
    assert_error(
        await rest.http.post("/rest/files", json=body, headers=alice), 400, "BAD_USER_INPUT"
    )
    assert (await rest.http.get("/rest/files", headers=alice)).json()["items"] == []


async def test_patch_refuses_fields_that_are_not_patchable(rest: Rest) -> None:
    alice = await rest.auth("alice")
    ready = await rest.upload(alice)
    for body in ({"id": "other"}, {"expectedVersion": 1}, {"size": 1}):
        response = await rest.http.patch(f"/rest/files/{ready['id']}", json=body, headers=alice)
        assert_error(response, 400, "BAD_USER_INPUT")
    tags = await rest.http.patch(f"/rest/files/{ready['id']}", json={"tags": [1]}, headers=alice)
    assert_error(tags, 400, "BAD_USER_INPUT")


async def test_bodies_over_the_cap_are_413(rest: Rest) -> None:
    alice = await rest.auth("alice")
    big = {"name": "a", "contentType": "text/plain", "size": 1, "description": "x" * MAX_BODY_BYTES}
    assert_error(
        await rest.http.post("/rest/files", json=big, headers=alice), 413, "BAD_USER_INPUT"
    )

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while reading
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b" " * 1024

    chunked = await rest.http.post("/rest/files", content=chunks(), headers=alice)
    assert_error(chunked, 413, "BAD_USER_INPUT")


async def test_query_parameters_are_checked(rest: Rest) -> None:
    alice = await rest.auth("alice")
    assert_error(await rest.http.get("/rest/files?first=ten", headers=alice), 400, "BAD_USER_INPUT")
    assert_error(await rest.http.get("/rest/files?first=-1", headers=alice), 400, "BAD_USER_INPUT")
    assert_error(
        await rest.http.get("/rest/files?after=bogus", headers=alice), 400, "BAD_USER_INPUT"
    )
    assert_error(await rest.http.get("/rest/search", headers=alice), 400, "BAD_USER_INPUT")
    wrong_type = await rest.http.get("/rest/search?q=a&type=GROUP", headers=alice)
    assert_error(wrong_type, 400, "BAD_USER_INPUT")


async def test_search_finds_files_and_users(rest: Rest) -> None:
    alice = await rest.auth("alice")
    ready = await rest.upload(alice, name="quarterly-report.txt")
    files = await rest.http.get("/rest/search?q=quarterly&type=file", headers=alice)
    assert files.status_code == 200, files.text
    hits = files.json()["items"]
    assert [(hit["type"], hit["node"]["id"]) for hit in hits] == [("File", ready["id"])]
    users = await rest.http.get(
        "/rest/search", params={"q": "alice", "type": "USER"}, headers=alice
    )
    assert [hit["type"] for hit in users.json()["items"]] == ["User"]
    assert users.json()["items"][0]["node"]["username"] == "alice"


async def test_unknown_routes_and_methods_answer_json(rest: Rest) -> None:
    alice = await rest.auth("alice")
    assert_error(await rest.http.get("/rest/nothing/here", headers=alice), 404, "NOT_FOUND")
    assert_error(await rest.http.put("/rest/me", headers=alice), 405, "BAD_USER_INPUT")


async def test_unexpected_failures_are_masked_500(
    rest: Rest, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await rest.auth("alice")

    async def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("secret detail at /internal/path")

    monkeypatch.setattr(FileService, "list_files_of", broken)
    response = await rest.http.get("/rest/files", headers=alice)
    error = assert_error(response, 500, "INTERNAL_SERVER_ERROR")
    assert error["message"] == "Internal server error"
    assert "secret" not in response.text
