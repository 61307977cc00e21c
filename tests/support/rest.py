"""The whole app over httpx's ASGI transport, for the /rest tests: the local backend in a
temp folder with real tokens from its development identity provider, or (``backend="aws"``)
DynamoDB, S3 and Cognito on moto's server over HTTP with Cognito tokens (support/aws_app.py)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from api.app import build_app
from api.bootstrap import Deps, build_deps
from api.settings import load_settings
from tests.support.aws_app import AwsApp, aws_stack
from tests.support.aws_app import send as send_to_s3

# The app's own base URL: the local blob store signs its URLs on it, so following a
# download redirect lands on the same ASGI app.
BASE_URL = "http://127.0.0.1:8000"


@dataclass
class Rest:
    http: httpx.AsyncClient
    deps: Deps
    aws: AwsApp | None = None

    async def token(self, username: str, groups: tuple[str, ...] = ()) -> str:
        if self.aws is not None:
            return self.aws.token(username, groups)
        assert self.deps.dev_idp is not None
        return (await self.deps.dev_idp.issue_tokens_for(username, groups)).id_token

    @property
    def blob_path_prefix(self) -> str:
        """How a download URL's path begins: the app's /blobs, or the bucket on S3."""
        return "/blobs/" if self.aws is None else f"/{self.aws.stack.bucket}/files/"

    async def fetch(self, url: str) -> httpx.Response:
        """Follow a download URL without the API's credentials, as a browser would: the app
        itself (local blobs), or S3 over real HTTP."""
        if self.aws is None:
            return await self.http.get(url)
        async with httpx.AsyncClient(timeout=10.0) as outside:
            return await outside.get(url)

    async def send(self, target: dict[str, Any], content: bytes) -> None:
        """The bytes to an upload target as a browser sends them (no Authorization)."""
        if target["method"] == "POST":  # S3's form, straight to S3
            sent = send_to_s3(target, content)
            assert sent.is_success, sent.text
            return
        assert target["method"] == "PUT"
        response = await self.http.put(target["url"], content=content, headers=target["headers"])
        assert response.status_code == 200, response.text

    async def send_part(self, target: dict[str, Any], content: bytes) -> httpx.Response:
        """One part to its presigned PUT target: the app's blob route, or S3 over HTTP."""
        if self.aws is None:
            return await self.http.put(target["url"], content=content, headers=target["headers"])
        async with httpx.AsyncClient(timeout=10.0) as outside:
            return await outside.put(target["url"], content=content, headers=target["headers"])

    async def auth(self, username: str, groups: tuple[str, ...] = ()) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(username, groups)}"}

    async def upload(
        self, auth: dict[str, str], content: bytes = b"hello rest", **declared: Any
    ) -> dict[str, Any]:
        """POST /rest/files, PUT the bytes to the target, POST .../complete: the READY file."""
        body = {
            "name": "notes.txt",
            "contentType": "text/plain",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        } | declared
        created = await self.http.post("/rest/files", json=body, headers=auth)
        assert created.status_code == 201, created.text
        # Like a browser: no Authorization header to the store, the URL is the capability.
        await self.send(created.json()["upload"], content)
        file_id = created.json()["file"]["id"]
        completed = await self.http.post(f"/rest/files/{file_id}/complete", headers=auth)
        assert completed.status_code == 200, completed.text
        ready: dict[str, Any] = completed.json()
        assert ready["status"] == "READY"
        return ready

    async def graphql(
        self, auth: dict[str, str], query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=auth
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        assert not answer.get("errors"), answer
        return answer


@contextlib.asynccontextmanager
async def open_rest(data_dir: Path, backend: str = "local", **settings: Any) -> AsyncIterator[Rest]:
    """``settings``: overrides for load_settings (e.g. cors_origins). ``backend``: "local", or
    "aws" (DynamoDB, S3 and Cognito on moto's server over HTTP)."""
    with contextlib.ExitStack() as stack:
        aws = stack.enter_context(aws_stack()) if backend == "aws" else None
        overrides = {**(aws.settings if aws is not None else {}), **settings}
        deps = build_deps(load_settings(data_dir=data_dir, **overrides))
        app = build_app(deps.settings, deps)
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
                yield Rest(http, deps, aws)
        finally:
            await deps.aclose()


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    assert error["requestId"] == response.headers["x-request-id"]
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in response.text
    return error
