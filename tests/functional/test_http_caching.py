"""HTTP caching where it is safe: per-viewer ETags with If-None-Match -> 304 on profiles,
files and GraphQL GETs (Cache-Control: private, Vary: Authorization), a shared ETag on
the OpenAPI document, immutable GraphiQL assets. A cache keyed by URL alone never gets
one user's answer confirmed for another."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.graphiql import graphiql_assets_app
from tests.support.rest import Rest, open_rest

SHARE = "mutation($id: ID!, $u: String!) { shareFile(id: $id, username: $u) { version } }"


@pytest.fixture
async def rest(tmp_path: Path) -> AsyncIterator[Rest]:
    async with open_rest(tmp_path) as rest:
        yield rest


def assert_private(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "private, no-cache"
    assert response.headers["vary"] == "Authorization"
    return response.headers["etag"]


async def test_profile_revalidates_with_304_until_it_changes(rest: Rest) -> None:
    alice = await rest.auth("alice")
    first = await rest.http.get("/rest/me", headers=alice)
    etag = assert_private(first)

    again = await rest.http.get("/rest/me", headers={**alice, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag

    await rest.graphql(alice, 'mutation { updateProfile(displayName: "Ada") { id } }')
    changed = await rest.http.get("/rest/me", headers={**alice, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["displayName"] == "Ada"
    assert changed.headers["etag"] != etag


class UrlKeyedCache:
    """A shared intermediary that (wrongly) keys by URL alone and revalidates what it
    holds with If-None-Match: it serves its stored body whenever the origin says 304."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.stored: dict[str, tuple[str, bytes]] = {}

    async def get(self, url: str, auth: dict[str, str]) -> tuple[int, bytes]:
        headers = dict(auth)
        if url in self.stored:
            headers["If-None-Match"] = self.stored[url][0]
        response = await self.http.get(url, headers=headers)
        if response.status_code == 304:
            return 200, self.stored[url][1]
        if response.status_code == 200 and "etag" in response.headers:
            self.stored[url] = (response.headers["etag"], response.content)
        return response.status_code, response.content


async def test_a_url_keyed_cache_never_serves_one_users_answer_to_another(rest: Rest) -> None:
    alice, bob = await rest.auth("alice"), await rest.auth("bob")
    file = await rest.upload(alice, b"alice's private bytes", name="diary.txt")
    cache = UrlKeyedCache(rest.http)
    url = f"/rest/files/{file['id']}"

    status, body = await cache.get(url, alice)
    assert status == 200 and json.loads(body)["name"] == "diary.txt"
    status, body = await cache.get(url, bob)  # bob may not read it
    assert status == 404 and b"diary" not in body

    status, body = await cache.get("/rest/me", alice)
    assert json.loads(body)["username"] == "alice"
    status, body = await cache.get("/rest/me", bob)
    assert status == 200 and json.loads(body)["username"] == "bob"

    # Shared with bob: he reads it, under a tag of his own.
    await rest.graphql(alice, SHARE, {"id": file["id"], "u": "bob"})
    alice_tag = assert_private(await rest.http.get(url, headers=alice))
    bob_view = await rest.http.get(url, headers={**bob, "If-None-Match": alice_tag})
    assert bob_view.status_code == 200 and assert_private(bob_view) != alice_tag


async def test_the_etag_as_sent_conditions_a_write(rest: Rest) -> None:
    alice = await rest.auth("alice")
    file = await rest.upload(alice)
    url = f"/rest/files/{file['id']}"
    etag = assert_private(await rest.http.get(url, headers=alice))

    renamed = await rest.http.patch(
        url, json={"name": "new.txt"}, headers={**alice, "If-Match": etag}
    )
    assert renamed.status_code == 200, renamed.text
    stale = await rest.http.patch(
        url, json={"name": "lost.txt"}, headers={**alice, "If-Match": etag}
    )
    assert stale.status_code == 412


async def test_file_listing_revalidates(rest: Rest) -> None:
    alice = await rest.auth("alice")
    await rest.upload(alice)
    etag = assert_private(await rest.http.get("/rest/files", headers=alice))
    again = await rest.http.get("/rest/files", headers={**alice, "If-None-Match": etag})
    assert again.status_code == 304
    await rest.upload(alice, b"another")
    grown = await rest.http.get("/rest/files", headers={**alice, "If-None-Match": etag})
    assert grown.status_code == 200 and len(grown.json()["items"]) == 2


async def test_openapi_document_revalidates(rest: Rest) -> None:
    first = await rest.http.get("/rest/openapi.json")
    assert first.status_code == 200 and first.headers["cache-control"].startswith("public")
    again = await rest.http.get(
        "/rest/openapi.json", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""


async def test_graphql_get_answers_carry_a_per_viewer_etag(rest: Rest) -> None:
    alice, bob = await rest.auth("alice"), await rest.auth("bob")
    params = {"query": "query Me { me { username } }"}
    first = await rest.http.get("/graphql", params=params, headers=alice)
    etag = assert_private(first)
    assert first.json()["data"]["me"]["username"] == "alice"

    again = await rest.http.get("/graphql", params=params, headers={**alice, "If-None-Match": etag})
    assert again.status_code == 304
    other = await rest.http.get("/graphql", params=params, headers={**bob, "If-None-Match": etag})
    assert other.status_code == 200 and other.json()["data"]["me"]["username"] == "bob"


async def test_graphiql_assets_are_immutable_and_revalidate(tmp_path: Path) -> None:
    key = "graphiql@3.0.0/graphiql.min.js"
    (tmp_path / "graphiql@3.0.0").mkdir()
    (tmp_path / key).write_text("console.log('hi')")
    (tmp_path / "manifest.json").write_text(json.dumps({key: "sha384-abc"}))
    transport = httpx.ASGITransport(app=graphiql_assets_app(tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        first = await http.get(f"/{key}")
        assert first.status_code == 200
        assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
        again = await http.get(f"/{key}", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
