"""scripts/smoke_test.py against a Cognito user pool on moto and a stand-in API on
loopback that behaves like the deployed one (authorizer included), then against stand-ins
that break one promise each: the smoke test must notice every one."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ops.aws_resources import create_user_pool
from scripts import smoke_test
from tests.support.moto_server import cognito_client, shared_moto_server, unique_name

PASSWORD = "correct horse battery staple"


@dataclass
class FakeApi:
    """What the stand-in API does; tests flip one behaviour at a time."""

    require_token: bool = True
    me_errors: bool = False
    ready: bool = True
    healthy: bool = True
    search_broken: bool = False
    seen: list[str] = field(default_factory=list)


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, document: dict[str, Any]) -> None:
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _user(self) -> str | None:
            header = self.headers.get("authorization", "")
            if not header.startswith("Bearer "):
                return None
            claims = _claims(header.removeprefix("Bearer "))
            return str(claims.get("cognito:username") or claims.get("username"))

        def do_GET(self) -> None:
            api.seen.append(f"GET {self.path}")
            if self.path == "/healthz":
                self._send(200 if api.healthy else 503, {"status": "ok" if api.healthy else "down"})
            elif self.path == "/readyz":
                if self._user() is None:
                    self._send(401, {"message": "Unauthorized"})
                else:
                    self._send(
                        200 if api.ready else 503,
                        {"status": "ready" if api.ready else "unavailable"},
                    )
            else:
                self._send(404, {"message": "Not Found"})

        def do_POST(self) -> None:
            api.seen.append(f"POST {self.path}")
            query = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
            user = self._user()
            if user is None and api.require_token:
                self._send(401, {"message": "Unauthorized"})
            elif api.me_errors:
                self._send(200, {"data": None, "errors": [{"message": "boom"}]})
            elif "search(" in query["query"]:
                if api.search_broken:
                    self._send(200, {"data": None, "errors": [{"message": "index"}]})
                else:
                    self._send(200, {"data": {"search": {"edges": []}}})
            else:
                self._send(200, {"data": {"me": {"id": "u-1", "username": user or "anonymous"}}})

    return Handler


@pytest.fixture
def api() -> Iterator[tuple[FakeApi, str]]:
    fake = FakeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def pool() -> tuple[str, str, str, str]:
    """(endpoint, pool id, client id, username) of a pool with a confirmed test user."""
    endpoint = shared_moto_server()
    client = cognito_client(endpoint)
    pool_id, client_id = create_user_pool(client, unique_name("smoke"))
    username = unique_name("smoker")
    client.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
    client.admin_set_user_password(
        UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True
    )
    return endpoint, pool_id, client_id, username


def _run(api_url: str, pool: tuple[str, str, str, str], password: str = PASSWORD) -> int:
    endpoint, pool_id, client_id, username = pool
    return smoke_test.main(
        [
            "--api-url",
            api_url,
            "--user-pool-id",
            pool_id,
            "--client-id",
            client_id,
            "--region",
            "us-east-1",
            "--endpoint-url",
            endpoint,
        ],
        environ={
            "SMOKE_USERNAME": username,
            "SMOKE_PASSWORD": password,
        },
    )


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smoke_test, "RETRY_DELAY_SECONDS", 0.0)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.mark.slow
def test_a_healthy_deployment_passes(
    api: tuple[FakeApi, str], pool: tuple[str, str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, url = api
    code = _run(url, pool)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "all checks passed" in out
    assert fake.seen == [
        "GET /healthz",
        "POST /graphql",
        "POST /graphql",
        "GET /readyz",
        "POST /graphql",
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ({"require_token": False}, "token required"),
        ({"me_errors": True}, "me:"),
        ({"ready": False}, "ready:"),
        ({"healthy": False}, "health:"),
        ({"search_broken": True}, "search:"),
    ],
)
def test_a_broken_deployment_fails(
    api: tuple[FakeApi, str],
    pool: tuple[str, str, str, str],
    capsys: pytest.CaptureFixture[str],
    breakage: dict[str, bool],
    expected: str,
) -> None:
    fake, url = api
    for name, value in breakage.items():
        setattr(fake, name, value)
    code = _run(url, pool)
    out = capsys.readouterr().out
    assert code == 1
    assert f"FAIL {expected}" in out


@pytest.mark.slow
def test_a_wrong_password_fails_the_sign_in(
    api: tuple[FakeApi, str], pool: tuple[str, str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = api
    code = _run(url, pool, password="not the password at all")
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL sign in" in out
    assert "not the password" not in out


def test_credentials_are_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        smoke_test.main(
            ["--api-url", "https://x", "--user-pool-id", "p", "--client-id", "c"], environ={}
        )
        == 2
    )
