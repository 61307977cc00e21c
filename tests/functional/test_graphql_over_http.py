"""GraphQL over HTTP against the real server process: the response media type follows
Accept, and a document's operation is selected as the GraphQL spec says.

- ``application/graphql-response+json``: a request error (parse, validation, variable
  coercion, operation selection) answers 400 without ``data``; a request that reached
  execution answers 200, even when a field error nulled all of ``data``;
- ``application/json`` or no Accept: 200 with ``errors``, as before;
- an Accept allowing neither: 406; a POST that is not ``application/json``: 415.
Every refusal carries a stable code and the request id and changes nothing.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.server_process import RunningServer, running_server

pytestmark = pytest.mark.slow

NEW = "application/graphql-response+json"
JSON = "application/json"
PASSWORD = "correct horse battery"
ME = "{ me { username displayName } }"
# A query first, a mutation second: the spec's example of a document needing a name.
QUERY_AND_MUTATION = (
    "query Read { me { username displayName } } "
    'mutation Rename { updateProfile(displayName: "renamed") { displayName } }'
)


def _nested(levels: int) -> str:
    inner = "username"
    for _ in range(levels):
        inner = f"files {{ edges {{ node {{ owner {{ {inner} }} }} }} }}"
    return f"{{ me {{ {inner} }} }}"


TOO_DEEP = _nested(3)  # depth 13 of 10


class Api:
    def __init__(self, server: RunningServer) -> None:
        self.http = httpx.Client(base_url=server.base_url, timeout=10)
        account = {"username": "carol", "password": PASSWORD}
        signup = self.http.post("/auth/signup", json={**account, "email": "c@example.com"})
        assert signup.status_code == 201, signup.text
        token = self.http.post("/auth/token", json=account).json()["idToken"]
        self.auth = {"Authorization": f"Bearer {token}"}

    def post(self, body: Any, accept: str | None = NEW, **headers: str) -> httpx.Response:
        sent = self.auth | headers | ({"Accept": accept} if accept is not None else {})
        return self.http.post("/graphql", json=body, headers=sent)

    def display_name(self) -> Any:
        answer = self.post({"query": ME}, accept=JSON).json()
        return answer["data"]["me"]["displayName"]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_server(tmp_path_factory.mktemp("graphql-over-http") / "data") as server:
        client = Api(server)
        yield client
        client.http.close()


def _refusal(response: httpx.Response, status: int, code: str, media: str = NEW) -> str:
    """A refusal's status, media type, code and request id; its messages."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == media
    body = response.json()
    assert "data" not in body, body
    errors = body["errors"]
    assert errors and {error["extensions"]["code"] for error in errors} == {code}
    assert {error["extensions"]["requestId"] for error in errors} == {
        response.headers["x-request-id"]
    }
    assert "Traceback" not in response.text
    return " ".join(str(error["message"]) for error in errors)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param({"query": "{ me { username "}, "BAD_USER_INPUT", id="parse"),
        pytest.param({"query": "{ me { nope } }"}, "BAD_USER_INPUT", id="validation"),
        pytest.param(
            {
                "query": "query F($n: Int!) { myFiles(first: $n) { edges { cursor } } }",
                "variables": {"n": "ten"},
            },
            "BAD_USER_INPUT",
            id="variable-coercion",
        ),
        pytest.param({"query": TOO_DEEP}, "QUERY_TOO_COMPLEX", id="limit"),
    ],
)
def test_a_request_error_answers_400_without_data_under_the_new_media_type(
    api: Api, body: dict[str, Any], code: str
) -> None:
    _refusal(api.post(body), 400, code)
    # application/json (and no Accept at all, and */*) keep the old answer: 200, data null.
    for accept in (JSON, None, "*/*"):
        old = api.post(body, accept=accept)
        assert old.status_code == 200, (accept, old.text)
        assert old.headers["content-type"].split(";")[0] == JSON
        assert old.json()["data"] is None
        assert {e["extensions"]["code"] for e in old.json()["errors"]} == {code}


def test_a_request_that_reached_execution_answers_200_under_the_new_media_type(
    api: Api,
) -> None:
    ok = api.post({"query": ME})
    assert ok.status_code == 200
    assert ok.headers["content-type"] == f"{NEW}; charset=utf-8"
    assert ok.json() == {"data": {"me": {"username": "carol", "displayName": None}}}
    # A field error that nulls the whole (non-null) data is still an executed request.
    anonymous = api.http.post("/graphql", json={"query": ME}, headers={"Accept": NEW})
    assert anonymous.status_code == 200
    assert anonymous.json()["data"] is None
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # GET answers the same way.
    got = api.http.get("/graphql", params={"query": "{ __typename }"}, headers={"Accept": NEW})
    assert (got.status_code, got.headers["content-type"]) == (200, f"{NEW}; charset=utf-8")


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (f"{NEW}, {JSON};q=0.9", NEW),  # what Apollo Client and graphql-http send
        (f"{NEW};q=0.5, {JSON}", JSON),
        ("application/*", JSON),
        (f"text/html, {NEW}", NEW),
    ],
)
def test_accept_picks_the_media_type_by_preference(api: Api, accept: str, media: str) -> None:
    response = api.post({"query": "{ nope }"}, accept=accept)
    assert response.headers["content-type"].split(";")[0] == media
    assert response.status_code == (400 if media == NEW else 200)


@pytest.mark.parametrize("accept", ["text/html", "application/xml", f"{NEW};q=0, {JSON};q=0"])
def test_an_accept_allowing_neither_media_type_is_refused_with_406(api: Api, accept: str) -> None:
    before = api.display_name()
    mutation = {"query": 'mutation { updateProfile(displayName: "x") { displayName } }'}
    message = _refusal(api.post(mutation, accept=accept), 406, "NOT_ACCEPTABLE", media=JSON)
    assert NEW in message
    assert api.display_name() == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_post_that_is_not_json_is_refused_with_415(api: Api, content_type: str) -> None:
    before = api.display_name()
    response = api.http.post(
        "/graphql",
        content=b'{"query": "mutation { updateProfile(displayName: \\"x\\") { displayName } }"}',
        headers=api.auth | {"Content-Type": content_type, "Accept": NEW},
    )
    _refusal(response, 415, "BAD_REQUEST")
    assert api.display_name() == before


def test_several_operations_without_an_operation_name_run_none(api: Api) -> None:
    before = api.display_name()
    message = _refusal(api.post({"query": QUERY_AND_MUTATION}), 400, "BAD_REQUEST")
    assert message.startswith("operationName is required")
    old = api.post({"query": QUERY_AND_MUTATION}, accept=JSON)
    assert old.status_code == 200
    assert old.json()["data"] is None
    assert old.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert api.display_name() == before  # neither the query nor the mutation ran


def test_the_named_operation_is_the_one_that_runs(api: Api) -> None:
    read = api.post({"query": QUERY_AND_MUTATION, "operationName": "Read"})
    assert read.status_code == 200
    assert read.json() == {"data": {"me": {"username": "carol", "displayName": None}}}
    renamed = api.post({"query": QUERY_AND_MUTATION, "operationName": "Rename"})
    assert renamed.json() == {"data": {"updateProfile": {"displayName": "renamed"}}}
    assert api.display_name() == "renamed"
    reset = "mutation { updateProfile(displayName: null) { displayName } }"
    assert api.post({"query": reset}).status_code == 200


@pytest.mark.parametrize("name", ["Write", "read", ""])
def test_an_operation_name_naming_no_operation_is_a_request_error(api: Api, name: str) -> None:
    before = api.display_name()
    body = {"query": QUERY_AND_MUTATION, "operationName": name}
    message = _refusal(api.post(body), 400, "BAD_REQUEST")
    assert f'"{name}"' in message
    old = api.post(body, accept=JSON)
    assert old.status_code == 200
    assert old.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert api.display_name() == before


@pytest.mark.parametrize("name", [7, True, ["Read"], {"name": "Read"}])
def test_an_operation_name_that_is_not_a_string_is_refused(api: Api, name: Any) -> None:
    body = {"query": QUERY_AND_MUTATION, "operationName": name}
    for accept in (NEW, JSON):
        response = api.post(body, accept=accept)
        _refusal(response, 400, "BAD_REQUEST", media=accept)


def test_limits_apply_to_the_selected_operation(api: Api) -> None:
    document = f"query Cheap {{ me {{ username }} }} query Deep {TOO_DEEP}"
    deep = api.post({"query": document, "operationName": "Deep"})
    assert "exceeds maximum operation depth" in _refusal(deep, 400, "QUERY_TOO_COMPLEX")
    # The limits hold for every operation of the document: naming the cheap one does not
    # smuggle an over-limit one past them, and nothing in the document runs.
    cheap = api.post({"query": document, "operationName": "Cheap"})
    _refusal(cheap, 400, "QUERY_TOO_COMPLEX")
    alone = api.post({"query": "query Cheap { me { username } }", "operationName": "Cheap"})
    assert alone.json() == {"data": {"me": {"username": "carol"}}}


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_on_graphql_are_refused_with_405_and_allow(api: Api, method: str) -> None:
    response = api.http.request(method, "/graphql", headers=api.auth | {"Accept": NEW})
    _refusal(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "GET, POST"


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/no-such-route", 404, "NOT_FOUND"),
        ("POST", "/healthz", 405, "METHOD_NOT_ALLOWED"),
        ("GET", "/auth/token", 405, "METHOD_NOT_ALLOWED"),
        ("POST", "/metrics", 405, "METHOD_NOT_ALLOWED"),
    ],
)
def test_routing_refusals_answer_the_json_error_body(
    api: Api, method: str, path: str, status: int, code: str
) -> None:
    response = api.http.request(method, path)
    assert response.status_code == status
    assert response.json() == {
        "error": {
            "code": code,
            "message": response.json()["error"]["message"],
            "requestId": response.headers["x-request-id"],
        }
    }
