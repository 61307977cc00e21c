"""The whole app in-process (local backend and dev identity provider in a temp folder)
driven as a client drives it: sign-up, sign-in, refresh, sign-out, GraphQL and REST, and
each request's log line with its store-call figures."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import build_app
from api.bootstrap import Deps, build_deps
from api.settings import load_settings

PASSWORD = "correct horse battery"
BASE_URL = "http://127.0.0.1:8000"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class AccountsApp:
    http: httpx.AsyncClient
    deps: Deps
    capsys: pytest.CaptureFixture[str] | None = None
    captured: str = ""

    async def signup(self, username: str, password: str = PASSWORD) -> str:
        """The new user's id."""
        created = await self.http.post(
            "/auth/signup", json={"username": username, "password": password}
        )
        assert created.status_code == 201, created.text
        user_id: str = created.json()["userId"]
        return user_id

    async def sign_in(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        response = await self.http.post(
            "/auth/token", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens

    async def refresh(self, refresh_token: str) -> httpx.Response:
        return await self.http.post("/auth/token", json={"refreshToken": refresh_token})

    async def graphql(
        self, token: str | None, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        headers = bearer(token) if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        answer["x-request-id"] = response.headers["x-request-id"]
        return answer

    def request_line(self, request_id: str) -> dict[str, Any]:
        """The request's log line (what the store calls cost); needs ``capsys``."""
        assert self.capsys is not None
        self.captured += self.capsys.readouterr().out
        lines = [json.loads(line) for line in self.captured.splitlines() if line.startswith("{")]
        found = [
            line
            for line in lines
            if line.get("message") == "request" and line.get("request_id") == request_id
        ]
        assert len(found) == 1, found
        line: dict[str, Any] = found[0]
        return line


def error_codes(answer: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in answer.get("errors") or []]


@contextlib.asynccontextmanager
async def open_accounts_app(
    data_dir: Path, capsys: pytest.CaptureFixture[str] | None = None, **settings: Any
) -> AsyncIterator[AccountsApp]:
    deps = build_deps(load_settings(data_dir=data_dir, **settings))
    app = build_app(deps.settings, deps)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield AccountsApp(http, deps, capsys)
    finally:
        await deps.aclose()
