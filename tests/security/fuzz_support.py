"""Shared pieces of the robustness tests: the whole app in-process (crashes become 500
responses, as a real server would send them, instead of exceptions in the test), an owner
with files whose state must survive every hostile request, and what a clean refusal is. The
app runs on the local backend or (``open_site(..., "aws")``) on DynamoDB + S3 + Cognito on
moto's server over HTTP."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from api import aws_clients
from api.app import build_app
from api.bootstrap import Deps, build_deps
from api.settings import load_settings
from tests.support.aws_app import aws_stack
from tests.support.aws_app import send as send_to_s3

BASE_URL = "http://127.0.0.1:8000"
JSON_HEADERS = {"Content-Type": "application/json"}

# Codes a refusal of the client's input may carry (GraphQL documents, Strawberry's HTTP
# layer, our own HTTP guards, the REST shim). Anything else means the server, not the
# request, was at fault.
CLIENT_CODES = frozenset(
    {
        "BAD_USER_INPUT",
        "BAD_REQUEST",
        "QUERY_TOO_COMPLEX",
        "PAYLOAD_TOO_LARGE",
        "METHOD_NOT_ALLOWED",
        "UNAUTHENTICATED",
        "NOT_FOUND",
    }
)
# What a leaked traceback, source path or exception repr looks like in a response body.
LEAK_MARKERS = ("Traceback", 'File "', '.py"', "/site-packages/", "Error(", "object has no")

# Everything the owner can observe about their files.
OWNER_FILES = """
query OwnerFiles {
  myFiles(first: 100) {
    edges { node { id name description tags visibility version status updatedAt } }
  }
}"""


@dataclass
class Site:
    """The app over ASGI, an owner (alice) with one READY file, and her bearer header."""

    http: httpx.AsyncClient
    deps: Deps
    owner: dict[str, str]
    file_id: str

    async def owner_files(self) -> list[dict[str, Any]]:
        response = await self.http.post("/graphql", json={"query": OWNER_FILES}, headers=self.owner)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert not answer.get("errors"), answer
        return [edge["node"] for edge in answer["data"]["myFiles"]["edges"]]


@contextlib.asynccontextmanager
async def open_site(data_dir: Path, backend: str = "local") -> AsyncIterator[Site]:
    with contextlib.ExitStack() as stack:
        aws = stack.enter_context(aws_stack()) if backend == "aws" else None
        made_before = len(aws_clients.created_clients())
        settings = aws.settings if aws is not None else {}
        deps = build_deps(load_settings(data_dir=data_dir, log_level="WARNING", **settings))
        app = build_app(deps.settings, deps, observe=False)
        # raise_app_exceptions=False: an unhandled exception answers 500 like uvicorn would,
        # so the assertion (not the transport) reports it.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        try:
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
                if aws is not None:
                    token = aws.token("alice")
                else:
                    assert deps.dev_idp is not None
                    token = (await deps.dev_idp.issue_tokens_for("alice", ())).id_token
                owner = {"Authorization": f"Bearer {token}"}
                file_id = await _seed_file(http, owner)
                yield Site(http, deps, owner, file_id)
        finally:
            await deps.aclose()
            del aws_clients._created[made_before:]


async def _seed_file(http: httpx.AsyncClient, owner: dict[str, str]) -> str:
    content = b"quarterly report"
    body = {
        "name": "report.txt",
        "contentType": "text/plain",
        "size": len(content),
        "description": "Q3 numbers",
        "tags": ["finance"],
    }
    created = await http.post("/rest/files", json=body, headers=owner)
    assert created.status_code == 201, created.text
    target = created.json()["upload"]
    if target["method"] == "POST":  # S3's presigned form, straight to S3
        assert send_to_s3(target, content).is_success
    else:
        sent = await http.put(target["url"], content=content, headers=target["headers"])
        assert sent.status_code == 200, sent.text
    file_id = str(created.json()["file"]["id"])
    completed = await http.post(f"/rest/files/{file_id}/complete", headers=owner)
    assert completed.status_code == 200, completed.text
    return file_id


def assert_no_leak(text: str) -> None:
    for marker in LEAK_MARKERS:
        assert marker not in text, f"response leaks {marker!r}: {text[:300]}"


def graphql_codes(body: Mapping[str, Any]) -> list[str]:
    return [str((error.get("extensions") or {}).get("code")) for error in body["errors"]]


def assert_graphql_refusal(response: httpx.Response) -> list[str]:
    """A /graphql answer that refuses the request cleanly: a 4xx, or a 200 whose errors all
    carry client codes (GraphQL over ``application/json`` reports a document it cannot run
    with status 200). Returns the codes."""
    assert response.status_code < 500, (response.status_code, response.text[:300])
    assert_no_leak(response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = json.loads(response.content)
    assert isinstance(body, dict) and body.get("errors"), body
    codes = graphql_codes(body)
    assert set(codes) <= CLIENT_CODES, codes
    if response.status_code == 200:
        # Refused as a whole, or the field that took the hostile input answered null.
        data = body.get("data")
        assert data is None or all(value is None for value in data.values()), data
    else:
        assert 400 <= response.status_code < 500
    return codes


def assert_rest_refusal(response: httpx.Response, status: int, code: str) -> None:
    """A REST error: the status, ``{"error": {"code", "message", "requestId"}}``, no leak."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert_no_leak(response.text)
    error = response.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert error["requestId"] == response.headers["x-request-id"]
