"""Share links through the real `demobackend serve` process on 127.0.0.1, for both
backends (SQLite + blob folder; DynamoDB + S3 in moto's server): the owner makes a link,
anyone follows it without signing in and gets the bytes, downloads are counted and
capped, and a revoked link or one of a deleted file answers exactly like an unknown token.
Bad input is refused and changes nothing. The rate limit on /s/ has its own server."""

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Served
from tests.support.file_client import FileClient, dev_idp_token, error_codes
from tests.support.server_process import running_server

pytestmark = pytest.mark.slow

CONTENT = os.urandom(100_000)
LINK_FIELDS = "id url expiresAt downloads maxDownloads createdAt"
CREATE = f"""
mutation ($fileId: ID!, $expiresIn: Int, $maxDownloads: Int) {{
  createShareLink(fileId: $fileId, expiresIn: $expiresIn, maxDownloads: $maxDownloads) {{
    {LINK_FIELDS}
  }}
}}"""
REVOKE = "mutation ($id: ID!) { revokeShareLink(id: $id) }"
LINKS = f"query ($id: ID!) {{ file(id: $id) {{ version shareLinks {{ {LINK_FIELDS} }} }} }}"
DELETE = "mutation ($id: ID!) { deleteFile(id: $id) }"


def _create(files: FileClient, file_id: str, **extra: Any) -> dict[str, Any]:
    link: dict[str, Any] = files.data(CREATE, {"fileId": file_id, **extra})["createShareLink"]
    return link


def _links(files: FileClient, file_id: str) -> dict[str, Any]:
    found: dict[str, Any] = files.data(LINKS, {"id": file_id})["file"]
    return found


def _follow(url: str) -> httpx.Response:
    """As someone without an account would: no Authorization, redirects not followed."""
    return httpx.get(url, timeout=30, follow_redirects=False)


def _body_without_request_id(response: httpx.Response) -> dict[str, Any]:
    error = dict(response.json()["error"])
    error.pop("requestId")
    return error


def test_anyone_downloads_through_a_link_until_it_is_used_up(served: Served) -> None:
    with served.files_of("sam") as owner:
        ready = owner.upload("report.bin", "application/octet-stream", CONTENT)
        link = _create(owner, ready["id"], maxDownloads=2)
        assert link["url"].startswith(f"{served.base_url}/s/")
        assert (link["downloads"], link["maxDownloads"]) == (0, 2)
        unknown = _follow(f"{served.base_url}/s/{'A' * 43}")
        assert unknown.status_code == 404

        for _ in range(2):
            followed = _follow(link["url"])
            assert followed.status_code == 302
            assert followed.headers["cache-control"] == "no-store"
            assert owner.download(followed.headers["location"]).content == CONTENT
        used_up = _follow(link["url"])
        assert used_up.status_code == 404
        assert _body_without_request_id(used_up) == _body_without_request_id(unknown)

        [listed] = _links(owner, ready["id"])["shareLinks"]
        # The token exists only in the answer that made the link.
        assert (listed["id"], listed["downloads"], listed["url"]) == (link["id"], 2, "")


def test_concurrent_followers_never_pass_max_downloads(served: Served) -> None:
    with served.files_of("tia") as owner:
        ready = owner.upload("popular.txt", "text/plain", b"many want this")
        link = _create(owner, ready["id"], maxDownloads=3)
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda _: _follow(link["url"]).status_code, range(12)))
        assert sorted(statuses) == [302] * 3 + [404] * 9
        assert _links(owner, ready["id"])["shareLinks"][0]["downloads"] == 3


def test_revoking_and_deleting_the_file_end_links(served: Served) -> None:
    with served.files_of("uma") as owner:
        ready = owner.upload("a.txt", "text/plain", b"revocable")
        revoked, kept = _create(owner, ready["id"]), _create(owner, ready["id"])
        assert owner.data(REVOKE, {"id": revoked["id"]})["revokeShareLink"] == revoked["id"]
        assert _follow(revoked["url"]).status_code == 404
        assert _follow(kept["url"]).status_code == 302
        assert [x["id"] for x in _links(owner, ready["id"])["shareLinks"]] == [kept["id"]]
        assert error_codes(owner.ask(REVOKE, {"id": revoked["id"]})) == ["NOT_FOUND"]

        owner.data(DELETE, {"id": ready["id"]})
        gone = _follow(kept["url"])
        assert gone.status_code == 404
        assert _body_without_request_id(gone)["code"] == "NOT_FOUND"


def test_bad_input_is_refused_and_changes_nothing(served: Served) -> None:
    with served.files_of("vic") as owner, served.files_of("wes") as other:
        ready = owner.upload("b.txt", "text/plain", b"mine")
        link = _create(owner, ready["id"])
        pending = owner.create_upload("c.txt", "text/plain", 3).file_id
        before = _links(owner, ready["id"])

        for variables, code in [
            ({"fileId": ready["id"], "expiresIn": 59}, "BAD_USER_INPUT"),
            ({"fileId": ready["id"], "expiresIn": 30 * 86_400 + 1}, "BAD_USER_INPUT"),
            ({"fileId": ready["id"], "maxDownloads": 0}, "BAD_USER_INPUT"),
            ({"fileId": pending}, "BAD_USER_INPUT"),
        ]:
            assert error_codes(owner.ask(CREATE, variables)) == [code], variables
        assert error_codes(other.ask(CREATE, {"fileId": ready["id"]})) == ["NOT_FOUND"]
        assert error_codes(other.ask(REVOKE, {"id": link["id"]})) == ["NOT_FOUND"]
        assert other.file(ready["id"]) is None

        assert _links(owner, ready["id"]) == before
        assert _follow(link["url"]).status_code == 302


def test_rest_creates_lists_and_revokes_links(served: Served) -> None:
    owner_token = served.token_for(f"xia-{uuid.uuid4().hex[:8]}")
    other_token = served.token_for(f"yul-{uuid.uuid4().hex[:8]}")
    with FileClient.over_http(served.base_url, owner_token) as files:
        file_id = files.upload("d.txt", "text/plain", b"over rest")["id"]
    links_path = f"/rest/files/{file_id}/share-links"
    with (
        httpx.Client(base_url=served.base_url, timeout=30, headers=_bearer(owner_token)) as rest,
        httpx.Client(base_url=served.base_url, timeout=30, headers=_bearer(other_token)) as other,
    ):
        assert httpx.post(f"{served.base_url}{links_path}", json={}).status_code == 401
        assert rest.post(links_path, json={"expiresIn": 59}).status_code == 400
        assert rest.post(links_path, json={"colour": "red"}).status_code == 400
        assert other.post(links_path, json={}).status_code == 404
        created = rest.post(links_path, json={"maxDownloads": 5})
        assert created.status_code == 201, created.text
        link = created.json()
        assert link["maxDownloads"] == 5 and link["url"].startswith(f"{served.base_url}/s/")
        assert _follow(link["url"]).status_code == 302
        listed = rest.get(links_path)
        assert [(x["id"], x["downloads"]) for x in listed.json()["items"]] == [(link["id"], 1)]
        assert other.delete(f"/rest/share-links/{link['id']}").status_code == 404
        assert rest.delete(f"/rest/share-links/{link['id']}").status_code == 204
        assert rest.delete(f"/rest/share-links/{link['id']}").status_code == 404
        assert rest.get(links_path).json() == {"items": []}
    assert _follow(link["url"]).status_code == 404


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_following_links_is_rate_limited_per_client(tmp_path: Path) -> None:
    with running_server(
        tmp_path / "data",
        DEMOBACKEND_SHARE_LINK_BURST="3",
        DEMOBACKEND_SHARE_LINK_REQUESTS_PER_SECOND="0.01",
    ) as server:
        url = f"{server.base_url}/s/{'B' * 43}"
        statuses = [_follow(url).status_code for _ in range(5)]
        assert statuses == [404, 404, 404, 429, 429]
        limited = _follow(url)
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]["code"] == "TOO_MANY_REQUESTS"
        # The rest of the API is not limited by it.
        token = dev_idp_token(server.base_url, "yan")
        with FileClient.over_http(server.base_url, token) as files:
            assert files.my_files() == []
