"""Hostile request bodies and headers: each is refused with a 4xx (or, for a GraphQL document
that cannot run, a 200 whose errors carry a client code), a JSON error body with a clear
code and no traceback, and the owner's files are exactly as they were.

In-process over ASGI for breadth, on both backends (local, and DynamoDB + S3 + Cognito on
moto's server: one site per module there, every case leaves it as it was), then the same
kinds of bytes to a real uvicorn process (which parses HTTP itself: Content-Length lies, raw
non-ASCII header bytes; HTTP parsing is the same whatever the stores, so local only)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from api.rest import MAX_BODY_BYTES
from tests.security.fuzz_support import (
    JSON_HEADERS,
    Site,
    assert_graphql_refusal,
    assert_no_leak,
    assert_rest_refusal,
    open_site,
)
from tests.support.backends import AWS
from tests.support.file_client import dev_idp_token
from tests.support.server_process import RunningServer, running_server

BODY_LIMIT = 64 * 1024  # the default of both /graphql (settings) and /rest (api.rest)
UPDATE = "mutation U($i: UpdateFileInput!) { updateFile(input: $i) { id name tags } }"
CREATE = "mutation C($i: CreateUploadInput!) { createUpload(input: $i) { file { id } } }"
MY_FILES = "query M($n: Int, $a: String) { myFiles(first: $n, after: $a) { edges { cursor } } }"
ME = "{ me { id } }"


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _nested(levels: int, opener: bytes = b"[", closer: bytes = b"]") -> bytes:
    return opener * levels + closer * levels


def _distinct_tags(count: int) -> list[str]:
    """``count`` different three-letter tags: 10,000 of them fit under the body limit."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [letters[i // 676 % 26] + letters[i // 26 % 26] + letters[i % 26] for i in range(count)]


def _update(file_id: str, **fields: Any) -> bytes:
    return _json({"query": UPDATE, "variables": {"i": {"id": file_id, **fields}}})


def _create(**fields: Any) -> bytes:
    base = {"name": "x.txt", "contentType": "text/plain", "size": 5}
    return _json({"query": CREATE, "variables": {"i": base | fields}})


TAGS_10K = _distinct_tags(10_000)

# name -> body, with FILE_ID standing for the owner's file id (known only at run time).
FILE_ID = "@FILE_ID@"
GRAPHQL_BODIES: dict[str, bytes] = {
    "malformed JSON": b'{"query": ',
    "empty body": b"",
    "JSON array (batch)": b'[{"query": "{ me { id } }"}]',
    "JSON number": b"42",
    "JSON string": b'"{ me { id } }"',
    "JSON null": b"null",
    "JSON true": b"true",
    "invalid UTF-8 in the query": b'{"query": "{ me { id } }\xff\xfe"}',
    "invalid UTF-8 in a variable": b'{"query": "' + UPDATE.encode() + b'", "variables": '
    b'{"i": {"id": "' + FILE_ID.encode() + b'", "name": "\xc3\x28.txt"}}}',
    "10k levels of [ in variables": b'{"query": "{ me { id } }", "variables": {"v": '
    + _nested(10_000)
    + b"}}",
    "5k levels of objects in variables": b'{"query": "{ me { id } }", "variables": '
    + _nested(5_000, b'{"a":', b"}").replace(b":}", b":1}")
    + b"}",
    "5000-digit number": b'{"query": "'
    + MY_FILES.encode()
    + b'", "variables": {"n": '
    + b"9" * 5000
    + b"}}",
    "NaN for an Int": b'{"query": "' + MY_FILES.encode() + b'", "variables": {"n": NaN}}',
    "variables is an array": _json({"query": ME, "variables": [1, 2]}),
    "variables is a string": _json({"query": ME, "variables": "{}"}),
    "query is a number": _json({"query": 5}),
    "query is an object": _json({"query": {"me": "id"}}),
    "no query": _json({"variables": {}}),
    "unknown operationName": _json({"query": "query A { me { id } }", "operationName": "B"}),
    "operationName is a number": _json({"query": "query A { me { id } }", "operationName": 7}),
    "extensions is a string": _json({"query": ME, "extensions": "x"}),
    "60k-character field name": _json({"query": "{ me { " + "x" * 60_000 + " } }"}),
    "NUL byte in the query": _json({"query": "{ me { id\u0000 } }"}),
    "NUL byte in a name": _update(FILE_ID, name="evil\u0000.txt"),
    "NUL byte in tags": _update(FILE_ID, tags=["ok", "b\u0000d"]),
    "NUL byte in a description": _update(FILE_ID, description="a\u0000b"),
    "lone surrogate in a name": _update(FILE_ID, name="x\ud800.txt"),
    "path separator in a name": _update(FILE_ID, name="../../etc/passwd"),
    "10,000 tags in updateFile": _update(FILE_ID, tags=TAGS_10K),
    "10,000 tags in createUpload": _create(tags=TAGS_10K),
    "tags nested 500 deep": _update(FILE_ID, tags=json.loads(_nested(500))),
    "tags as an object": _update(FILE_ID, tags={"a": 1}),
    "name as a number": _update(FILE_ID, name=5),
    "id as a list": _json({"query": UPDATE, "variables": {"i": {"id": [1], "name": "x"}}}),
    "size as a boolean": _create(size=True),
    "size beyond 64 bits": _create(size="99999999999999999999"),
    "first as text": _json({"query": MY_FILES, "variables": {"n": "ten"}}),
    "first beyond 32 bits": _json({"query": MY_FILES, "variables": {"n": 10**30}}),
    "NUL in a cursor": _json({"query": MY_FILES, "variables": {"a": "c1.\u0000.\u0000"}}),
    "visibility not in the enum": _update(FILE_ID, visibility="EVERYONE"),
}


# The aws site lives for the module, so every in-process case runs on the module's loop.
ON_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def aws_site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    async with open_site(tmp_path_factory.mktemp("hostile-aws"), AWS) as site:
        yield site


@pytest_asyncio.fixture(loop_scope="module")
async def local_site(tmp_path: Path) -> AsyncIterator[Site]:
    async with open_site(tmp_path) as site:
        yield site


@pytest.fixture
def site(backend: str, request: pytest.FixtureRequest) -> Site:
    """A fresh local site per case; on AWS the module's one."""
    found: Site = request.getfixturevalue("aws_site" if backend == AWS else "local_site")
    return found


def _with_file(body: bytes, site: Site) -> bytes:
    return body.replace(FILE_ID.encode(), site.file_id.encode())


@ON_MODULE_LOOP
@pytest.mark.parametrize("name", list(GRAPHQL_BODIES))
async def test_graphql_refuses_hostile_bodies_and_changes_nothing(site: Site, name: str) -> None:
    before = await site.owner_files()
    body = _with_file(GRAPHQL_BODIES[name], site)
    assert len(body) <= BODY_LIMIT, len(body)  # under the limit: the parser must cope
    response = await site.http.post("/graphql", content=body, headers=site.owner | JSON_HEADERS)
    assert_graphql_refusal(response)
    assert await site.owner_files() == before


@ON_MODULE_LOOP
async def test_graphql_refuses_a_body_over_the_limit_with_413(site: Site) -> None:
    before = await site.owner_files()
    huge = _json({"query": ME, "variables": {"pad": "x" * (BODY_LIMIT + 1)}})
    response = await site.http.post("/graphql", content=huge, headers=site.owner | JSON_HEADERS)
    assert response.status_code == 413
    assert assert_graphql_refusal(response) == ["PAYLOAD_TOO_LARGE"]
    assert await site.owner_files() == before


@ON_MODULE_LOOP
async def test_graphql_counts_a_chunked_body_without_content_length(site: Site) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "' + UPDATE.encode() + b'", "variables": {"i": {"id": "'
        yield site.file_id.encode() + b'", "tags": ["'
        for _ in range(100):
            yield b"y" * 1024
        yield b'"]}}}'

    before = await site.owner_files()
    response = await site.http.post("/graphql", content=chunks(), headers=site.owner | JSON_HEADERS)
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert_graphql_refusal(response)
    assert await site.owner_files() == before


@ON_MODULE_LOOP
@pytest.mark.parametrize("route", ["/graphql", "/rest/files/{id}"])
@pytest.mark.parametrize("declared", [b"\xb2", b"1\xb3", b"1e3", b"-1", b"0x10", b"+12"])
async def test_a_content_length_that_is_not_a_number_is_refused(
    site: Site, route: str, declared: bytes
) -> None:
    """Header bytes are read as latin-1, and ``"\xb2"`` is "²": ``"²".isdigit()`` is true
    but ``int("²")`` fails. The guard must refuse it, not crash on it."""
    before = await site.owner_files()
    headers = [
        (b"authorization", site.owner["Authorization"].encode()),
        (b"content-type", b"application/json"),
        (b"content-length", declared),
    ]
    if route == "/graphql":
        body = _update(site.file_id, name="x")
        response = await site.http.post(route, content=body, headers=headers)
        assert response.status_code in (400, 413), response.text
        assert_graphql_refusal(response)
    else:
        url = route.format(id=site.file_id)
        response = await site.http.patch(url, content=b'{"name": "x"}', headers=headers)
        assert_rest_refusal(response, 400, "BAD_USER_INPUT")
    assert await site.owner_files() == before


@ON_MODULE_LOOP
@pytest.mark.parametrize(
    "header",
    [
        pytest.param((b"authorization", b"Bearer \xc3\xbc\xff\x00"), id="authorization"),
        pytest.param((b"content-type", b"application/json; charset=\xc3\xbc"), id="content-type"),
        pytest.param((b"x-request-id", "\u202eidé".encode()), id="x-request-id"),
    ],
)
async def test_non_ascii_header_bytes_are_refused_cleanly(
    site: Site, header: tuple[bytes, bytes]
) -> None:
    headers = [(b"content-type", b"application/json"), header]
    if header[0] != b"authorization":
        headers.append((b"authorization", site.owner["Authorization"].encode()))
    before = await site.owner_files()
    body = _update(site.file_id, name="x")
    response = await site.http.post("/graphql", content=body, headers=headers)
    assert response.status_code < 500, response.text
    assert_no_leak(response.text)
    if header[0] == b"authorization":
        assert assert_graphql_refusal(response) == ["UNAUTHENTICATED"]
        assert await site.owner_files() == before
    else:
        # Harmless bytes elsewhere: the request runs, and the echoed id is our own.
        assert response.json()["data"]["updateFile"]["name"] == "x"
        assert response.headers["x-request-id"].isascii()


# --- the REST shim -----------------------------------------------------------------------

REST_RAW_BODIES: dict[str, bytes] = {
    "malformed JSON": b'{"name": ',
    "empty body": b"",
    "JSON array": b'[{"name": "x"}]',
    "JSON number": b"42",
    "JSON string": b'"x"',
    "JSON null": b"null",
    "invalid UTF-8": b'{"name": "\xff\xfe.txt"}',
    "10k levels of [": b'{"tags": ' + _nested(10_000) + b"}",
    "5000-digit number": b'{"size": ' + b"9" * 5000 + b"}",
    "NaN": b'{"size": NaN}',
    "GraphQL request instead": _json({"query": ME}),
}
REST_OBJECT_BODIES: dict[str, dict[str, Any]] = {
    "10,000 tags": {"tags": TAGS_10K},
    "NUL byte in a name": {"name": "evil\u0000.txt"},
    "NUL byte in a tag": {"tags": ["b\u0000d"]},
    "control character in a description": {"description": "bell\u0007"},
    "name as a number": {"name": 5},
    "tags nested 500 deep": {"tags": json.loads(_nested(500))},
    "tags as an object": {"tags": {"a": 1}},
    "visibility not in the enum": {"visibility": "EVERYONE"},
    "path separator in a name": {"name": "a/b"},
    "over-long name": {"name": "n" * 256},
}
REST_TARGETS = [("PATCH", "/rest/files/{id}"), ("POST", "/rest/files")]


@ON_MODULE_LOOP
@pytest.mark.parametrize(("method", "path"), REST_TARGETS)
@pytest.mark.parametrize("name", list(REST_RAW_BODIES))
async def test_rest_refuses_hostile_raw_bodies(
    site: Site, method: str, path: str, name: str
) -> None:
    before = await site.owner_files()
    url = path.format(id=site.file_id)
    headers = site.owner | JSON_HEADERS
    response = await site.http.request(method, url, content=REST_RAW_BODIES[name], headers=headers)
    assert_rest_refusal(response, 400, "BAD_USER_INPUT")
    assert await site.owner_files() == before


@ON_MODULE_LOOP
@pytest.mark.parametrize(("method", "path"), REST_TARGETS)
@pytest.mark.parametrize("name", list(REST_OBJECT_BODIES))
async def test_rest_refuses_hostile_fields(site: Site, method: str, path: str, name: str) -> None:
    before = await site.owner_files()
    body = REST_OBJECT_BODIES[name]
    if method == "POST":
        body = {"name": "x.txt", "contentType": "text/plain", "size": 5} | body
    url = path.format(id=site.file_id)
    response = await site.http.request(method, url, content=_json(body), headers=site.owner)
    assert_rest_refusal(response, 400, "BAD_USER_INPUT")
    assert await site.owner_files() == before


@ON_MODULE_LOOP
@pytest.mark.parametrize(("method", "path"), REST_TARGETS)
async def test_rest_refuses_a_body_over_the_limit_with_413(
    site: Site, method: str, path: str
) -> None:
    before = await site.owner_files()
    huge = _json({"description": "x" * (MAX_BODY_BYTES + 1)})
    url = path.format(id=site.file_id)
    response = await site.http.request(method, url, content=huge, headers=site.owner)
    assert_rest_refusal(response, 413, "BAD_USER_INPUT")
    assert await site.owner_files() == before


@ON_MODULE_LOOP
async def test_rest_non_ascii_authorization_is_401(site: Site) -> None:
    headers = [(b"authorization", b"Bearer \xc3\xbc\xff")]
    response = await site.http.patch(f"/rest/files/{site.file_id}", content=b"{}", headers=headers)
    assert_rest_refusal(response, 401, "UNAUTHENTICATED")


# --- the same bytes through a real uvicorn ---------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str, str]]:
    data_dir = tmp_path_factory.mktemp("hostile-live")
    with running_server(data_dir, DEMOBACKEND_LOG_LEVEL="WARNING") as server:
        token = dev_idp_token(server.base_url, "alice")
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            created = http.post(
                "/rest/files",
                json={"name": "live.txt", "contentType": "text/plain", "size": 4},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert created.status_code == 201, created.text
        yield server, token, str(created.json()["file"]["id"])


def _live_files(base_url: str, token: str) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    query = {"query": "{ myFiles { edges { node { id name tags description version } } } }"}
    answer = httpx.post(f"{base_url}/graphql", json=query, headers=headers, timeout=10).json()
    assert not answer.get("errors"), answer
    return answer["data"]


LIVE_GRAPHQL_CASES = [
    "JSON number",
    "JSON null",
    "invalid UTF-8 in the query",
    "10k levels of [ in variables",
    "5000-digit number",
    "NUL byte in a name",
    "10,000 tags in updateFile",
    "60k-character field name",
]


@pytest.mark.slow
@pytest.mark.parametrize("name", LIVE_GRAPHQL_CASES)
def test_live_graphql_refuses_hostile_bodies(
    live: tuple[RunningServer, str, str], name: str
) -> None:
    server, token, file_id = live
    before = _live_files(server.base_url, token)
    body = GRAPHQL_BODIES[name].replace(FILE_ID.encode(), file_id.encode())
    headers = {"Authorization": f"Bearer {token}", **JSON_HEADERS}
    response = httpx.post(f"{server.base_url}/graphql", content=body, headers=headers, timeout=10)
    assert_graphql_refusal(response)
    assert _live_files(server.base_url, token) == before


@pytest.mark.slow
@pytest.mark.parametrize("name", ["invalid UTF-8", "10k levels of [", "JSON number"])
def test_live_rest_refuses_hostile_bodies(live: tuple[RunningServer, str, str], name: str) -> None:
    server, token, file_id = live
    before = _live_files(server.base_url, token)
    headers = {"Authorization": f"Bearer {token}", **JSON_HEADERS}
    response = httpx.patch(
        f"{server.base_url}/rest/files/{file_id}",
        content=REST_RAW_BODIES[name],
        headers=headers,
        timeout=10,
    )
    assert_rest_refusal(response, 400, "BAD_USER_INPUT")
    assert _live_files(server.base_url, token) == before


def _raw_exchange(base_url: str, request: bytes, *, half_close: bool = False) -> bytes:
    """Send bytes as they are (no client fixes them up) and read until the server closes."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(request)
        if half_close:
            connection.shutdown(socket.SHUT_WR)  # the client gives up: no more body comes
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def _raw_request(method: str, path: str, headers: dict[str, bytes], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close"]
    lines += [name.encode() + b": " + value for name, value in headers.items()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _status_and_body(answer: bytes) -> tuple[int, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), [("POST", "/graphql"), ("PATCH", "/rest/files/{id}")])
def test_live_content_length_shorter_than_the_body(
    live: tuple[RunningServer, str, str], method: str, path: str
) -> None:
    server, token, file_id = live
    before = _live_files(server.base_url, token)
    body = b'{"name": "short.txt", "query": "{ me { id } }"}'
    headers = {
        "Content-Type": b"application/json",
        "Authorization": f"Bearer {token}".encode(),
        "Content-Length": b"5",  # the server reads '{"nam' and must call it bad JSON
    }
    answer = _raw_exchange(
        server.base_url, _raw_request(method, path.format(id=file_id), headers, body)
    )
    status, payload = _status_and_body(answer)
    assert status == 400, answer[:300]
    assert_no_leak(payload.decode("utf-8", "replace"))
    assert b"BAD_" in payload
    assert _live_files(server.base_url, token) == before


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), [("POST", "/graphql"), ("PATCH", "/rest/files/{id}")])
def test_live_content_length_longer_than_the_body(
    live: tuple[RunningServer, str, str], method: str, path: str
) -> None:
    """The client promises 500 bytes, sends 20 and gives up: nobody is left to answer, but
    the server must neither log a crash for it nor change anything."""
    server, token, file_id = live
    before = _live_files(server.base_url, token)
    log_start = len(server.output())
    headers = {
        "Content-Type": b"application/json",
        "Authorization": f"Bearer {token}".encode(),
        "Content-Length": b"500",
    }
    request = _raw_request(method, path.format(id=file_id), headers, b'{"name": "late.txt"')
    answer = _raw_exchange(server.base_url, request, half_close=True)
    assert answer == b"" or _status_and_body(answer)[0] < 500, answer[:300]
    assert _live_files(server.base_url, token) == before
    time.sleep(0.3)  # the server's log line for the abandoned request, if any, lands now
    log = server.output()[log_start:]
    assert "Traceback" not in log and '"level":"ERROR"' not in log, log[:2000]


@pytest.mark.slow
def test_live_non_ascii_header_bytes(live: tuple[RunningServer, str, str]) -> None:
    server, token, file_id = live
    before = _live_files(server.base_url, token)
    body = _update(file_id, name="renamed.txt")
    for headers in (
        {"Content-Type": b"application/json", "Authorization": b"Bearer \xc3\xbc\xff"},
        {
            "Content-Type": b"application/json",
            "Authorization": b"Bearer " + token.encode() + b"\xc3\xbc",
        },
    ):
        headers["Content-Length"] = str(len(body)).encode()
        answer = _raw_exchange(server.base_url, _raw_request("POST", "/graphql", headers, body))
        status, payload = _status_and_body(answer)
        assert status == 200, answer[:300]
        codes = [error["extensions"]["code"] for error in json.loads(payload)["errors"]]
        assert codes == ["UNAUTHENTICATED"]
    assert _live_files(server.base_url, token) == before
