"""CSRF on /graphql: only JSON POSTs (which a browser cannot send cross-site without a
preflight) run operations; a mutation over GET is refused with 405."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.rest import Rest, open_rest

MUTATION = 'mutation { updateProfile(displayName: "pwned") { displayName } }'


@pytest.fixture
async def rest(tmp_path: Path) -> AsyncIterator[Rest]:
    async with open_rest(tmp_path) as rest:
        yield rest


async def display_name(rest: Rest, auth: dict[str, str]) -> Any:
    answer = await rest.graphql(auth, "{ me { displayName } }")
    return answer["data"]["me"]["displayName"]


async def test_json_post_runs_a_mutation(rest: Rest) -> None:
    auth = await rest.auth("alice")
    await rest.graphql(auth, MUTATION)
    assert await display_name(rest, auth) == "pwned"


async def test_json_post_may_ask_for_graphql_response_json(rest: Rest) -> None:
    auth = await rest.auth("alice")
    headers = auth | {"Accept": "application/graphql-response+json, application/json"}
    response = await rest.http.post("/graphql", json={"query": "{ me { id } }"}, headers=headers)
    assert response.status_code == 200
    assert response.json()["data"]["me"]["id"]


async def test_mutation_over_get_is_405(rest: Rest) -> None:
    auth = await rest.auth("alice")
    response = await rest.http.get("/graphql", params={"query": MUTATION}, headers=auth)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert await display_name(rest, auth) is None


async def test_query_over_get_still_works(rest: Rest) -> None:
    auth = await rest.auth("alice")
    response = await rest.http.get("/graphql", params={"query": "{ me { id } }"}, headers=auth)
    assert response.status_code == 200
    assert response.json()["data"]["me"]["id"]


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("application/x-www-form-urlencoded", f"query={MUTATION}"),
        (
            "multipart/form-data; boundary=x",
            f'--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n{MUTATION}\r\n--x--\r\n',
        ),
        ("text/plain", f'{{"query": "{MUTATION.replace(chr(34), chr(92) + chr(34))}"}}'),
        ("text/plain; charset=utf-8", '{"query": "{ me { id } }"}'),
        ("application/jsonx", '{"query": "{ me { id } }"}'),
        (None, '{"query": "{ me { id } }"}'),
    ],
)
@pytest.mark.parametrize("custom_header", [False, True])
async def test_simple_request_content_types_are_refused(
    rest: Rest, content_type: str | None, content: str, custom_header: bool
) -> None:
    auth = await rest.auth("alice")
    headers = dict(auth)
    if content_type is not None:
        headers["Content-Type"] = content_type
    if custom_header:
        # No non-JSON body is supported, so even a preflighted request is refused.
        headers["X-Requested-With"] = "XMLHttpRequest"
    response = await rest.http.post("/graphql", content=content.encode(), headers=headers)
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert await display_name(rest, auth) is None


async def test_json_with_charset_is_accepted(rest: Rest) -> None:
    auth = await rest.auth("alice")
    headers = auth | {"Content-Type": "application/json; charset=utf-8"}
    response = await rest.http.post(
        "/graphql", content=b'{"query": "{ me { id } }"}', headers=headers
    )
    assert response.status_code == 200
    assert response.json()["data"]["me"]["id"]
