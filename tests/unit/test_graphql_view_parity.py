"""Where the view (api/graphql_view.py) does a part of Strawberry's work its own,
cheaper way, it answers as Strawberry does. Its parsing of a POSTed JSON object
(``_parse_posted_object``) against Strawberry's ``parse_http_body``: the same
request data, or the same 400 with the same words, for every body; it takes only the
Content-Type spellings Strawberry's own parse files as JSON, and leaves the rest to it.
Its empty sub-response against Strawberry's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cross_web import HTTPException
from starlette.requests import Request
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.async_base_view import AsyncBaseHTTPView
from strawberry.http.parse_content_type import parse_content_type
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from api.app import build_app
from api.bootstrap import build_deps
from api.graphql_view import PLAIN_JSON_CONTENT_TYPES, DemoGraphQL
from api.graphql_view import _Request as _ViewRequest
from api.lambda_graphql import graphql_view_of
from api.settings import load_settings

BODIES: list[Any] = [
    {"query": "{ me { username } }"},
    {"query": "query Q($n: Int) { me { username } }", "variables": {"n": 1}},
    {"query": "{ me { username } }", "operationName": "Q", "extensions": {"a": 1}},
    {"query": None, "extensions": {"persistedQuery": {"sha256Hash": "0" * 64}}},
    {"documentId": "sha256:abc"},
    {},
    {"query": 5},
    {"query": ["a"]},
    {"query": "{ me { username } }", "variables": []},
    {"query": "{ me { username } }", "variables": "x"},
    {"query": "{ me { username } }", "extensions": 1},
    {"query": "{ me { username } }", "operationName": 7},
    [{"query": "{ me { username } }"}],
    [],
]
RAW_BODIES = [b"", b"{", b"null", b"12", b'"text"', b"\xff\xfe", b"[" * 5000]


@pytest.fixture
def view(tmp_path: Path) -> Iterator[DemoGraphQL]:
    loop = asyncio.new_event_loop()
    deps = build_deps(load_settings(data_dir=tmp_path))
    yield graphql_view_of(build_app(deps.settings, deps))
    loop.run_until_complete(deps.aclose())
    loop.close()


def _request(body: bytes, content_type: str = "application/json") -> Request:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "query_string": b"",
        "headers": [(b"content-type", content_type.encode()), (b"host", b"testserver")],
    }
    return Request(scope, receive)


def _outcome(view: DemoGraphQL, parse: Any, body: bytes) -> object:
    return _outcome_of(view, parse, _request(body))


def _outcome_of(view: DemoGraphQL, parse: Any, request: Request) -> object:
    async def run() -> object:
        try:
            data = await parse(view.request_adapter_class(request))
        except HTTPException as exc:
            return ("refused", exc.status_code, exc.reason)
        return data if data is None or isinstance(data, list) else vars(data)

    return asyncio.run(run())


@pytest.mark.parametrize("body", [json.dumps(b).encode() for b in BODIES] + RAW_BODIES)
def test_a_posted_body_parses_as_strawberry_parses_it(view: DemoGraphQL, body: bytes) -> None:
    ours = _outcome(view, view._parse_posted_object, body)
    theirs = _outcome(view, lambda r: AsyncBaseHTTPView.parse_http_body(view, r), body)
    if ours is None:
        # Left to Strawberry: only a batch (which Strawberry refuses).
        assert theirs == ("refused", 400, "Batching is not enabled")
    else:
        assert ours == theirs


def test_the_lean_parse_takes_an_object_and_leaves_a_batch(view: DemoGraphQL) -> None:
    assert isinstance(_outcome(view, view._parse_posted_object, b'{"query": "{ a }"}'), dict)
    assert _outcome(view, view._parse_posted_object, b'[{"query": "{ a }"}]') is None


def test_with_a_stream_transport_on_strawberry_parses(view: DemoGraphQL) -> None:
    view.protocols = (GRAPHQL_TRANSPORT_WS_PROTOCOL, "graphql-sse")
    vars(view).pop("_stream_transport_map", None)  # a cached property, rebuilt from protocols
    assert _outcome(view, view._parse_posted_object, b'{"query": "{ a }"}') is None


@pytest.mark.parametrize("content_type", sorted(PLAIN_JSON_CONTENT_TYPES))
def test_the_spellings_parsed_lean_are_json_to_strawberry(
    view: DemoGraphQL, content_type: str
) -> None:
    assert view._refuse(_request(b"{}", content_type)) is None
    assert parse_content_type(content_type)[0] == "application/json"


@pytest.mark.parametrize("content_type", ['APPLICATION/JSON; charset="UTF-8"', "application/json;"])
def test_other_spellings_keep_strawberrys_answer(view: DemoGraphQL, content_type: str) -> None:
    # Past the 415 check (it lowercases and cuts at ';') but not matched exactly: Strawberry
    # parses these, and answers the upper-case one 400 (its parse keeps the case).
    request = _request(b'{"query": "{ a }"}', content_type)
    assert view._refuse(request) is None
    assert _outcome_of(view, view._parse_posted_object, request) is None


def test_the_sub_response_is_strawberrys_empty_one(view: DemoGraphQL) -> None:
    ours = asyncio.run(view.get_sub_response(_request(b"{}")))
    theirs = asyncio.run(GraphQL.get_sub_response(view, _request(b"{}")))
    for sub in (ours, theirs):
        status: object = sub.status_code  # Strawberry's "none set", typed as an int
        assert (status, sub.background, sub.headers.raw) == (None, None, [])
    data: GraphQLHTTPResponse = {"data": {"me": {"username": "dora"}}}
    mine, strawberrys = (view.create_response(data, sub) for sub in (ours, theirs))
    assert mine.status_code == strawberrys.status_code == 200
    assert (mine.headers.raw, mine.body) == (strawberrys.headers.raw, strawberrys.body)


# What receive hands the view, message by message: in one piece, in chunks (some empty),
# a client gone mid-body, a disconnect first.
MESSAGE_SEQUENCES: list[list[dict[str, Any]]] = [
    [{"type": "http.request", "body": b'{"query": "{ a }"}', "more_body": False}],
    [{"type": "http.request", "body": b"", "more_body": False}],
    [{"type": "http.request"}],
    [
        {"type": "http.request", "body": b'{"que', "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b'ry": "{ a }"}', "more_body": False},
    ],
    [
        {"type": "http.request", "body": b'{"que', "more_body": True},
        {"type": "http.disconnect"},
    ],
    [{"type": "http.disconnect"}],
]


def _read_body(request: Request, messages: list[dict[str, Any]]) -> object:
    """What reading the body twice gives, and how many messages it took."""
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    request._receive = receive

    async def run() -> object:
        outcomes: list[object] = []
        for _ in range(2):
            try:
                outcomes.append(await request.body())
            except Exception as exc:  # the error itself is what must match
                outcomes.append((type(exc), str(exc)))
        return outcomes, len(messages) - len(queue), request._is_disconnected

    return asyncio.run(run())


@pytest.mark.parametrize("messages", MESSAGE_SEQUENCES)
def test_the_views_body_reads_as_starlettes(messages: list[dict[str, Any]]) -> None:
    scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": []}
    ours = _read_body(_ViewRequest(dict(scope)), messages)
    theirs = _read_body(Request(dict(scope)), messages)
    assert ours == theirs


def test_the_views_body_after_the_stream_was_consumed_is_refused_as_starlettes() -> None:
    scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": []}
    outcomes = []
    for request in (_ViewRequest(dict(scope)), Request(dict(scope))):
        request._stream_consumed = True
        with pytest.raises(RuntimeError) as raised:
            asyncio.run(request.body())
        outcomes.append(str(raised.value))
    assert outcomes[0] == outcomes[1] == "Stream consumed"


@pytest.mark.parametrize(
    "raw",
    [
        [(b"content-type", b"application/json"), (b"host", b"a")],
        [(b"accept", b"application/json"), (b"accept", b"text/html")],  # the first wins
        [(b"X-Upper", b"1"), (b"x-upper", b"2")],  # sent names are matched as sent
        [(b"authorization", "Bearer \xe9".encode("latin-1"))],
        [],
    ],
)
def test_the_views_headers_answer_as_starlettes(raw: list[tuple[bytes, bytes]]) -> None:
    scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": raw}
    ours, theirs = _ViewRequest(scope).headers, Request(scope).headers
    for name in ("content-type", "Content-Type", "accept", "x-upper", "X-Upper", "authorization"):
        assert ours.get(name) == theirs.get(name)
        assert (name in ours) == (name in theirs)
        assert ours.get(name, "-") == theirs.get(name, "-")
    assert ours.raw == theirs.raw and ours.getlist("accept") == theirs.getlist("accept")
