"""The acceptance walk of a new user, against the real server process on 127.0.0.1:
sign up, get a token, ask `me`, restart, and find the same user still there."""

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.server_process import ROOT, running_server, server_env

pytestmark = pytest.mark.slow
ME = {"query": "{ me { id username email } }"}


def _sign_up_and_get_token(base_url: str) -> str:
    signup = httpx.post(
        f"{base_url}/auth/signup",
        json={"username": "alice", "password": "correct horse battery", "email": "a@example.com"},
    )
    assert signup.status_code == 201, signup.text
    token = httpx.post(
        f"{base_url}/auth/token",
        json={"username": "alice", "password": "correct horse battery"},
    )
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["tokenType"] == "Bearer" and body["expiresIn"] > 0
    return str(body["idToken"])


def test_user_survives_a_restart(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        token = _sign_up_and_get_token(server.base_url)
        first = httpx.post(
            f"{server.base_url}/graphql", json=ME, headers={"Authorization": f"Bearer {token}"}
        )
        assert first.status_code == 200
        me = first.json()["data"]["me"]
        assert (me["username"], me["email"]) == ("alice", "a@example.com")
        assert first.headers["x-request-id"]

    with running_server(tmp_path) as server:
        token_again = httpx.post(
            f"{server.base_url}/auth/token",
            json={"username": "alice", "password": "correct horse battery"},
        ).json()["idToken"]
        again = httpx.post(
            f"{server.base_url}/graphql",
            json=ME,
            headers={"Authorization": f"Bearer {token_again}"},
        )
        assert again.json()["data"]["me"]["id"] == me["id"]
        # A token issued before the restart still verifies: the signing key persisted.
        old = httpx.post(
            f"{server.base_url}/graphql", json=ME, headers={"Authorization": f"Bearer {token}"}
        )
        assert old.json()["data"]["me"]["id"] == me["id"]


def test_cli_token_is_accepted_by_the_running_server(tmp_path: Path) -> None:
    issued = subprocess.run(
        [sys.executable, "-m", "api.cli", "token", "carol", "--group", "admin"],
        cwd=ROOT,
        env=server_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = issued.stdout.strip()
    assert token.count(".") == 2 and "\n" not in token
    with running_server(tmp_path) as server:
        result = httpx.post(
            f"{server.base_url}/graphql",
            json={"query": "{ me { username groups } }"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
    assert result == {"data": {"me": {"username": "carol", "groups": ["admin"]}}}


def test_forged_and_missing_tokens_are_unauthenticated(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        token = _sign_up_and_get_token(server.base_url)
        header, payload, signature = token.split(".")
        forged = f"{header}.{payload}.{signature[::-1]}"
        answers = [
            httpx.post(f"{server.base_url}/graphql", json=ME, headers=headers).json()
            for headers in ({}, {"Authorization": f"Bearer {forged}"}, {"Authorization": "Basic x"})
        ]
    for answer in answers:
        assert answer["data"] is None
        assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_health_and_readiness(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        assert httpx.get(f"{server.base_url}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{server.base_url}/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"store": "ok", "blobs": "ok"}


def test_playground_page_is_served(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        page = httpx.get(f"{server.base_url}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


def test_serve_announces_the_playground_and_how_to_get_a_token(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        pass
    banner = server.output()
    assert f"{server.base_url}/graphql" in banner
    assert "demobackend token" in banner
