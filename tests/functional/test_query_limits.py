"""Query limits over HTTP: depth, aliases, tokens, batching and body size are refused
with a clean error before any resolver runs (the store is never touched)."""

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.rest import Rest, open_rest

STORE_METHODS = ("get_many", "query", "write")


class StoreCalls:
    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
async def rest(tmp_path: Path) -> AsyncIterator[Rest]:
    async with open_rest(tmp_path) as rest:
        yield rest


@pytest.fixture
def store_calls(rest: Rest, monkeypatch: pytest.MonkeyPatch) -> StoreCalls:
    calls = StoreCalls()
    for name in STORE_METHODS:
        original: Callable[..., Any] = getattr(rest.deps.items, name)

        async def counted(*args: Any, _original: Callable[..., Any] = original, **kw: Any) -> Any:
            calls.count += 1
            return await _original(*args, **kw)

        monkeypatch.setattr(rest.deps.items, name, counted)
    return calls


def nested(levels: int) -> str:
    """``me { files { edges { node { owner { ... username } } } } }``: 4 levels per step."""
    inner = "username"
    for _ in range(levels):
        inner = f"files {{ edges {{ node {{ owner {{ {inner} }} }} }} }}"
    return f"{{ me {{ {inner} }} }}"


async def post(rest: Rest, auth: dict[str, str], query: str) -> dict[str, Any]:
    response = await rest.http.post("/graphql", json={"query": query}, headers=auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def calls_for(rest: Rest, calls: StoreCalls, auth: dict[str, str], query: str) -> int:
    before = calls.count
    await post(rest, auth, query)
    return calls.count - before


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def test_query_within_the_depth_limit_runs(rest: Rest) -> None:
    auth = await rest.auth("alice")
    body = await post(rest, auth, nested(2))  # depth 9 of 10
    assert "errors" not in body, body
    assert body["data"]["me"]["files"]["edges"] == []


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        pytest.param(nested(3), "exceeds maximum operation depth of 10", id="depth"),
        pytest.param(
            "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(31)) + " }",
            "31 aliases found. Allowed: 30",
            id="aliases",
        ),
        pytest.param("{ me { " + "id " * 2100 + "} }", "more than 2000 tokens", id="tokens"),
    ],
)
async def test_over_limit_is_refused_before_any_resolver(
    rest: Rest, store_calls: StoreCalls, query: str, reason: str
) -> None:
    auth = await rest.auth("alice")
    await post(rest, auth, "{ me { id } }")  # the profile exists from here on
    # What a request costs with no resolver touching the store (authentication only).
    baseline = await calls_for(rest, store_calls, auth, "{ __typename }")
    assert await calls_for(rest, store_calls, auth, "{ me { files { edges { cursor } } } }") > (
        baseline
    )
    before = store_calls.count
    body = await post(rest, auth, query)
    assert store_calls.count - before == baseline
    assert body["data"] is None
    assert set(codes(body)) == {"QUERY_TOO_COMPLEX"}  # deep queries are costly too
    assert any(reason in error["message"] for error in body["errors"]), body
    assert body["errors"][0]["extensions"]["requestId"]


async def test_thirty_aliases_are_allowed(rest: Rest) -> None:
    auth = await rest.auth("alice")
    body = await post(rest, auth, "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(30)) + " }")
    assert "errors" not in body, body


async def test_limits_follow_the_settings(tmp_path: Path) -> None:
    async with open_rest(tmp_path, max_query_depth=3, max_aliases=1) as rest:
        auth = await rest.auth("alice")
        assert codes(await post(rest, auth, nested(1))) == ["QUERY_TOO_COMPLEX"]
        assert codes(await post(rest, auth, "{ a: me { id } b: me { id } }")) == [
            "QUERY_TOO_COMPLEX"
        ]
        assert "errors" not in await post(rest, auth, "{ a: me { id } }")


async def test_batched_operations_are_refused(rest: Rest) -> None:
    auth = await rest.auth("alice")
    batch = [{"query": "{ me { id } }"}, {"query": "{ me { id } }"}]
    response = await rest.http.post("/graphql", json=batch, headers=auth)
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "Batching is not enabled"


async def test_oversized_body_is_413_with_a_json_error(rest: Rest) -> None:
    auth = await rest.auth("alice")
    padding = " " * (64 * 1024)
    response = await rest.http.post(
        "/graphql", json={"query": "{ me { id } }" + padding}, headers=auth
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_oversized_body_without_content_length_is_413(rest: Rest) -> None:
    auth = await rest.auth("alice")

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ me { id } }", "x": "'
        for _ in range(70):
            yield b"x" * 1024
        yield b'"}'

    headers = auth | {"Content-Type": "application/json"}
    response = await rest.http.post("/graphql", content=chunks(), headers=headers)
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


async def test_first_is_capped(rest: Rest) -> None:
    auth = await rest.auth("alice")
    body = await post(rest, auth, "{ myFiles(first: 101) { edges { cursor } } }")
    assert codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("introspection", [True, False])
async def test_field_suggestions_only_while_introspection_is_on(
    tmp_path: Path, introspection: bool
) -> None:
    async with open_rest(tmp_path, introspection=introspection) as rest:
        auth = await rest.auth("alice")
        body = await post(rest, auth, "{ me { usernme } }")
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("Cannot query field 'usernme' on type 'User'.")
    assert ("Did you mean" in error["message"]) is introspection
    assert ("username" in error["message"]) is introspection


@pytest.mark.parametrize("introspection", [True, False])
async def test_introspection_answers_only_while_it_is_on(
    tmp_path: Path, introspection: bool
) -> None:
    async with open_rest(tmp_path, introspection=introspection) as rest:
        auth = await rest.auth("alice")
        body = await post(rest, auth, "{ __schema { queryType { name } } }")
        typename = await post(rest, auth, "{ __typename }")
    assert typename == {"data": {"__typename": "Query"}}  # not a blanket refusal
    if introspection:
        assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    else:
        assert body["data"] is None
        assert set(codes(body)) == {"BAD_USER_INPUT"}
        assert all("introspection" in e["message"].lower() for e in body["errors"])


NESTED_PAGES = (
    "{{ myFiles(first: {a}) {{ edges {{ node {{ owner {{"
    " files(first: {b}) {{ edges {{ node {{ id }} }} }} }} }} }} }} }}"
)


async def test_cost_multiplies_through_page_sizes(rest: Rest, store_calls: StoreCalls) -> None:
    auth = await rest.auth("alice")
    await post(rest, auth, "{ me { id } }")
    baseline = await calls_for(rest, store_calls, auth, "{ __typename }")
    # 1 + 4*50 + 3*50*50 = 7701 > 5000: refused, though depth, aliases and tokens are fine.
    before = store_calls.count
    body = await post(rest, auth, NESTED_PAGES.format(a=50, b=50))
    assert store_calls.count - before == baseline
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "cost 7701" in body["errors"][0]["message"]
    # With the defaults (20 x 20): 1 + 80 + 1200 = 1281, allowed.
    assert "errors" not in await post(rest, auth, NESTED_PAGES.format(a=20, b=20))


async def test_cost_takes_the_cap_for_a_variable_page_size(rest: Rest) -> None:
    auth = await rest.auth("alice")
    query = NESTED_PAGES.format(a="$n", b=20).replace("{ myFiles", "query($n: Int) { myFiles", 1)
    response = await rest.http.post(
        "/graphql", json={"query": query, "variables": {"n": 1}}, headers=auth
    )
    # 1 + 4*100 + 3*100*20 = 6401: the bound must hold whatever the variable says.
    assert codes(response.json()) == ["QUERY_TOO_COMPLEX"]


async def test_cost_follows_fragments(tmp_path: Path) -> None:
    async with open_rest(tmp_path, max_query_cost=100) as rest:
        auth = await rest.auth("alice")
        query = (
            "{ myFiles(first: 50) { ...F } }"
            " fragment F on FileConnection { edges { node { id name } } }"
        )
        body = await post(rest, auth, query)
        assert codes(body) == ["QUERY_TOO_COMPLEX"]  # 1 + 50*4 = 201
        assert "errors" not in await post(rest, auth, query.replace("50", "20"))  # 81
