"""The Lambda fast path for POST /graphql (api/lambda_graphql.py) answers exactly as the full
path (Mangum over the app) does: each recorded HTTP API v2 event goes through a handler
with the fast path and one without, over the same deps, and the answers (status, headers,
body) and what the request printed (the request line, EMF documents) must be identical,
timings aside. Events the fast path must not take go to Mangum untouched."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from adapters.identity.dev_idp import DevIdentityProvider
from api.bootstrap import DEV_IDP_KEY_FILE, Deps, build_deps
from api.lambda_handler import LambdaHandler
from api.persisted_operations import document_hash
from api.settings import load_settings
from domain.errors import StoreUnavailableError
from tests.support.apigw_events import LambdaContext, http_api_event, response_json

ME = "query Me { me { username displayName } }"
PAGE = (
    "query Page { myFiles(first: 5) { edges { cursor node { id name size status "
    "owner { username } } } pageInfo { hasNextPage endCursor } } }"
)
RENAME = 'mutation Rename { updateProfile(displayName: "Dora D") { username displayName } }'
ORIGIN = "https://app.example.com"
MAX_BODY = 4096
# Values that differ between two runs of the same request, whichever path: the time.
T = TypeVar("T")
_TIMING_KEYS = ("latency", "timestamp", "_ms", "time")


def run(awaitable: Coroutine[Any, Any, T]) -> T:
    """On the loop both handlers run on, as Mangum does (asyncio.run would unset it)."""
    return asyncio.get_event_loop().run_until_complete(awaitable)


class Pair:
    """Two handlers over one deps: the fast path on (``fast``) and off (``full``)."""

    def __init__(self, deps: Deps, capsys: pytest.CaptureFixture[str]) -> None:
        self.deps = deps
        self.fast = LambdaHandler(deps)
        self.full = LambdaHandler(deps, fast_path=False)
        self._capsys = capsys
        assert self.fast.fast is not None and self.full.fast is None

    @property
    def taken(self) -> int:
        assert self.fast.fast is not None
        return self.fast.fast.taken

    def both(
        self, event: dict[str, Any], context: Any = None, *, fast_path: bool = True
    ) -> dict[str, Any]:
        """Both answers, asserted identical; ``fast_path``: whether the fast path must
        have answered it (else it must have handed it to Mangum)."""
        context = context or LambdaContext()
        # Once before, discarded: a token's first verification makes store calls of its
        # own (counted in the request line), whichever path meets it first.
        self.full(copy.deepcopy(event), context)
        self._capsys.readouterr()
        full = self.full(copy.deepcopy(event), context)
        full_out = self._capsys.readouterr().out
        before = self.taken
        fast = self.fast(copy.deepcopy(event), context)
        fast_out = self._capsys.readouterr().out
        assert self.taken == before + (1 if fast_path else 0)
        assert normalised(fast) == normalised(full)
        assert printed(fast_out) == printed(full_out)
        return fast


def normalised(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: "<t>" if _is_timing(key, item) else normalised(item) for key, item in value.items()
        }
    if isinstance(value, list):
        return [normalised(item) for item in value]
    return value


def _is_timing(key: str, value: Any) -> bool:
    lowered = key.lower()
    return any(part in lowered for part in _TIMING_KEYS) and not isinstance(value, dict)


def printed(out: str) -> list[Any]:
    """Each JSON line the request printed (request line, EMF), timings normalised."""
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return [normalised(json.loads(line)) for line in lines]


@pytest.fixture(autouse=True)
def event_loop_set() -> Iterator[None]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture
def pair(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Pair]:
    settings = load_settings(
        data_dir=tmp_path, cors_origins=(ORIGIN,), max_graphql_body_bytes=MAX_BODY
    )
    deps = build_deps(settings)
    yield Pair(deps, capsys)
    run(deps.aclose())


def token_for(deps: Deps, username: str) -> str:
    assert deps.dev_idp is not None
    return run(deps.dev_idp.issue_tokens_for(username, ())).id_token


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def post(body: Any, headers: dict[str, str] | None = None, **options: Any) -> dict[str, Any]:
    return http_api_event("POST", "/graphql", body=body, headers=headers, **options)


def test_me_takes_the_fast_path_and_answers_as_the_full_one(pair: Pair) -> None:
    dora = bearer(token_for(pair.deps, "dora"))
    answer = pair.both(post({"query": ME}, dora, request_id="gw-me-1"))
    assert answer["statusCode"] == 200
    assert response_json(answer) == {"data": {"me": {"username": "dora", "displayName": None}}}
    assert answer["headers"]["x-request-id"] == "gw-me-1"


def test_a_page_and_a_mutation(pair: Pair) -> None:
    dora = bearer(token_for(pair.deps, "dora"))
    create = (
        'mutation { createUpload(input: {name: $name, contentType: "text/plain", size: 3}) '
        "{ file { id } } }"
    )
    for name in ("a.txt", "b.txt", "c.txt"):  # seeded once, through the full path only
        seeded = pair.full(post({"query": create.replace("$name", f'"{name}"')}, dora), None)
        assert "errors" not in response_json(seeded), response_json(seeded)
    page = pair.both(post({"query": PAGE}, dora))
    edges = response_json(page)["data"]["myFiles"]["edges"]
    assert sorted(edge["node"]["name"] for edge in edges) == ["a.txt", "b.txt", "c.txt"]
    renamed = pair.both(post({"query": RENAME, "operationName": "Rename"}, dora))
    assert response_json(renamed)["data"]["updateProfile"]["displayName"] == "Dora D"


def test_request_errors_in_both_media_types(pair: Pair) -> None:
    dora = bearer(token_for(pair.deps, "dora"))
    graphql_response = {**dora, "accept": "application/graphql-response+json"}
    cases = [
        ({"query": "{ me { nope } }"}, dora, 200),  # validation
        ({"query": "{ me { username "}, dora, 200),  # syntax
        ({"query": "{ me { nope } }"}, graphql_response, 400),
        ({"query": "{ me { username "}, graphql_response, 400),
        ({"query": ME}, graphql_response, 200),
        ({"query": ME, "operationName": "Other"}, dora, 200),  # names no operation
        ({"query": ME, "operationName": 7}, dora, 400),
        ({"query": ME, "variables": [1]}, dora, 400),
        ({"variables": {}}, dora, 400),  # no query at all
        ({"query": ME}, {**dora, "accept": "text/html"}, 406),
        # No HTTP stream transport is configured (subscriptions are WebSocket only), so
        # these are plain refusals, answered alike; with one, the fast path would not
        # take them (LambdaGraphQL asks the view).
        ({"query": ME}, {**dora, "accept": "multipart/mixed"}, 406),
        ({"query": ME}, {**dora, "accept": 'multipart/mixed;subscriptionSpec="1.0"'}, 406),
        ({"query": ME}, {**dora, "accept": "text/event-stream"}, 406),
    ]
    for body, headers, status in cases:
        answer = pair.both(post(body, headers))
        assert answer["statusCode"] == status, (body, headers, answer)
    syntax = pair.both(post({"query": "{ me { username "}, graphql_response))
    assert response_json(syntax)["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert syntax["isBase64Encoded"]  # Mangum's rule for a type it does not list as text


def test_bad_expired_absent_tokens_and_a_signed_out_session(pair: Pair, tmp_path: Path) -> None:
    settings = pair.deps.settings
    past = DevIdentityProvider(
        pair.deps.items,
        tmp_path / DEV_IDP_KEY_FILE,
        settings.dev_issuer,
        settings.dev_client_id,
        clock=lambda: time.time() - 7200,
    )
    token_for(pair.deps, "erin")  # the user exists
    expired = run(past.issue_tokens_for("erin", ())).id_token
    for headers in (
        {},
        {"authorization": "Bearer not-a-token"},
        {"authorization": "Basic ZG9yYTpwdw=="},
        bearer(expired),
    ):
        answer = pair.both(post({"query": ME}, headers))
        assert response_json(answer)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    token = token_for(pair.deps, "frank")
    signed_out = pair.full(post({"query": "mutation { signOutEverywhere }"}, bearer(token)), None)
    assert response_json(signed_out) == {"data": {"signOutEverywhere": True}}
    answer = pair.both(post({"query": ME}, bearer(token)))
    assert response_json(answer)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_body_and_content_type_refusals(pair: Pair) -> None:
    dora = bearer(token_for(pair.deps, "dora"))
    big = {"query": ME, "padding": "x" * MAX_BODY}
    declared = {**dora, "content-length": str(len(json.dumps(big)))}
    assert pair.both(post(big, declared))["statusCode"] == 413
    assert pair.both(post(big, dora))["statusCode"] == 413  # no Content-Length: capped read
    wrong = pair.both(post({"query": ME}, {**dora, "content-type": "text/plain"}))
    assert wrong["statusCode"] == 415
    form = {**dora, "content-type": "application/x-www-form-urlencoded"}
    assert pair.both(post({"query": ME}, form))["statusCode"] == 415
    event = post({"query": ME}, dora)
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert pair.both(event)["statusCode"] == 200
    not_json = post({"query": ME}, dora)
    not_json["body"] = '{"query": '
    assert pair.both(not_json)["statusCode"] == 400


def test_persisted_queries_without_a_list(pair: Pair) -> None:
    dora = bearer(token_for(pair.deps, "dora"))
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": document_hash(ME)}}
    answer = pair.both(post({"extensions": extensions}, dora))
    assert answer["statusCode"] == 400
    assert response_json(answer)["errors"][0]["extensions"]["code"] == (
        "PERSISTED_QUERY_NOT_SUPPORTED"
    )
    assert pair.both(post({"query": ME, "extensions": extensions}, dora))["statusCode"] == 200


def test_persisted_queries_with_a_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listed = tmp_path / "operations.json"
    listed.write_text(json.dumps({f"sha256:{document_hash(ME)}": ME}))
    deps = build_deps(load_settings(data_dir=tmp_path, persisted_operations_file=listed))
    pair = Pair(deps, capsys)
    dora = bearer(token_for(deps, "dora"))
    by_id = pair.both(post({"documentId": f"sha256:{document_hash(ME)}"}, dora))
    assert response_json(by_id)["data"]["me"]["username"] == "dora"
    unknown = pair.both(post({"documentId": f"sha256:{'0' * 64}"}, dora))
    assert unknown["statusCode"] == 400
    assert pair.both(post({"query": "{ me { username } }"}, dora))["statusCode"] == 403
    run(deps.aclose())


def test_an_unavailable_store_answers_503(pair: Pair) -> None:
    dora = bearer(token_for(pair.deps, "dora"))  # issued while the store answers
    pair.both(post({"query": ME}, dora))  # and verified once
    breaker = pair.deps.breakers["items"]

    async def fail() -> None:
        raise StoreUnavailableError("down")

    async def trip() -> None:
        while breaker.state != "open":
            with pytest.raises(StoreUnavailableError):
                await breaker.call(fail)

    run(trip())
    answer = pair.both(post({"query": ME}, dora))
    assert answer["statusCode"] == 503 and int(answer["headers"]["retry-after"]) >= 1


class SpentInvocation(LambdaContext):
    def get_remaining_time_in_millis(self) -> int:
        return 1_000  # exactly the 1 s margin: no time left for the request


def test_a_spent_deadline_answers_503(pair: Pair) -> None:
    dora = bearer(token_for(pair.deps, "dora"))
    answer = pair.both(post({"query": ME}, dora), SpentInvocation())
    assert answer["statusCode"] == 503
    assert response_json(answer)["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"


def test_cors_on_the_fast_path_and_the_preflight_falls_through(pair: Pair) -> None:
    dora = bearer(token_for(pair.deps, "dora"))
    allowed = pair.both(post({"query": ME}, {**dora, "origin": ORIGIN}))
    assert allowed["headers"]["access-control-allow-origin"] == ORIGIN
    other = pair.both(post({"query": ME}, {**dora, "origin": "https://evil.example"}))
    assert "access-control-allow-origin" not in other["headers"]
    preflight = http_api_event(
        "OPTIONS",
        "/graphql",
        headers={
            "origin": ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert pair.both(preflight, fast_path=False)["statusCode"] == 200


def test_events_it_does_not_take_go_to_mangum(pair: Pair) -> None:
    dora = bearer(token_for(pair.deps, "dora"))
    query = "query=%7B%20me%20%7B%20username%20%7D%20%7D"
    falls_through = [
        http_api_event("GET", "/graphql", headers=dora, query=query),
        http_api_event("GET", "/healthz"),
        http_api_event("POST", "/graphql/", body={"query": ME}, headers=dora),
        post([{"query": ME}], dora),  # a batch
        post("not an object", dora),
        http_api_event("PUT", "/graphql", body={"query": ME}, headers=dora),
    ]
    no_body = post({"query": ME}, dora)
    no_body["body"] = None
    falls_through.append(no_body)
    for event in falls_through:
        pair.both(event, fast_path=False)


def test_a_streamed_accept_is_left_to_the_full_view_when_a_stream_transport_is_on(
    tmp_path: Path,
) -> None:
    """Today no HTTP stream transport is configured (above: those Accept values are plain
    refusals). Were one turned on, a request asking for it must reach Strawberry's full
    dispatch, which the fast path leaves out."""
    from mangum import Mangum
    from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL

    from api.app import build_app
    from api.lambda_graphql import LambdaGraphQL, graphql_view_of

    deps = build_deps(load_settings(data_dir=tmp_path))
    app = build_app(deps.settings, deps)
    graphql_view_of(app).protocols = (*graphql_view_of(app).protocols, GRAPHQL_SSE_PROTOCOL)
    fast = LambdaGraphQL(app, Mangum(app, lifespan="off").config)
    assert fast(post({"query": ME}, {"accept": "text/event-stream"}), LambdaContext()) is None
    plain = fast(post({"query": ME}, {"accept": "application/json"}), LambdaContext())
    assert plain is not None and plain["statusCode"] == 200 and fast.taken == 1
    run(deps.aclose())
