"""The smoke checks of a deployed API, whatever carries the requests.

Two callers: scripts/smoke_test.py (over HTTPS through API Gateway, after a deployment)
and ops/pre_traffic.py (CodeDeploy's pre-traffic hook: straight to the new function
version, before any traffic shifts to it). A check takes a ``Send`` that answers one
request, so both run the very same checks.

Checks, in order: GET /healthz answers ok; (through API Gateway only) POST /graphql
without a token is refused by the authorizer; sign-in yields an ID token;
``{ me { id username } }`` returns the signed-in user; GET /readyz with the token says
ready; a search answers without errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

ME_QUERY = "{ me { id username } }"
SEARCH_QUERY = 'query SmokeSearch { search(query: "smoke", first: 1) { edges { score } } }'
ATTEMPTS = 3  # a fresh deployment's first requests may meet cold starts or a rollout


class SmokeFailure(Exception):
    """One check failed; the message says which and how."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise SmokeFailure(f"answer is not JSON: {self.body[:200]!r}") from None


class Send(Protocol):
    def __call__(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        token: str | None = None,
        attempts: int = ATTEMPTS,
    ) -> Response: ...


def sign_in(cognito: Any, pool_id: str, client_id: str, username: str, password: str) -> str:
    """An ID token for the test user (ADMIN_USER_PASSWORD_AUTH)."""
    try:
        answer = cognito.admin_initiate_auth(
            UserPoolId=pool_id,
            ClientId=client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
    except Exception as error:  # botocore's ClientError and friends: name the code only
        code = getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)
        raise SmokeFailure(f"sign-in as {username} failed: {code}") from None
    if "AuthenticationResult" not in answer:
        challenge = answer.get("ChallengeName", "unknown")
        raise SmokeFailure(f"sign-in as {username} needs {challenge}; set a permanent password")
    token: str = answer["AuthenticationResult"]["IdToken"]
    return token


def check_health(send: Send) -> None:
    answer = send("GET", "/healthz")
    if answer.status != 200 or answer.json().get("status") != "ok":
        raise SmokeFailure(f"GET /healthz answered {answer.status} {answer.body[:200]!r}")


def check_token_required(send: Send) -> None:
    answer = send("POST", "/graphql", body={"query": ME_QUERY}, attempts=1)
    if answer.status not in (401, 403):
        raise SmokeFailure(f"POST /graphql without a token answered {answer.status}, not 401")


def check_me(send: Send, token: str, username: str) -> str:
    answer = send("POST", "/graphql", body={"query": ME_QUERY}, token=token)
    document = answer.json() if answer.status == 200 else {}
    me = (document.get("data") or {}).get("me") or {}
    if answer.status != 200 or document.get("errors") or not me.get("id"):
        raise SmokeFailure(f"{ME_QUERY} answered {answer.status} {answer.body[:300]!r}")
    if str(me.get("username", "")).lower() != username.lower():
        raise SmokeFailure(f"me is {me.get('username')!r}, signed in as {username!r}")
    return str(me["id"])


def check_ready(send: Send, token: str) -> None:
    answer = send("GET", "/readyz", token=token)
    if answer.status != 200 or answer.json().get("status") != "ready":
        raise SmokeFailure(f"GET /readyz answered {answer.status} {answer.body[:200]!r}")


def check_search(send: Send, token: str) -> None:
    """The search path (index and its store) answers; what it finds depends on the data."""
    answer = send("POST", "/graphql", body={"query": SEARCH_QUERY}, token=token)
    document = answer.json() if answer.status == 200 else {}
    edges = ((document.get("data") or {}).get("search") or {}).get("edges")
    if answer.status != 200 or document.get("errors") or not isinstance(edges, list):
        raise SmokeFailure(f"search answered {answer.status} {answer.body[:300]!r}")


def run_checks(
    send: Send,
    sign_in: Callable[[], str] | None,
    username: str,
    report: Callable[[str], None],
    *,
    through_gateway: bool = True,
) -> list[str]:
    """Every check, each reported; the failures (empty: all passed)."""
    failures: list[str] = []

    def step(name: str, check: Callable[[], object]) -> object:
        try:
            outcome = check()
        except SmokeFailure as failure:
            failures.append(f"{name}: {failure}")
            report(f"FAIL {name}: {failure}")
            return None
        report(f"ok   {name}")
        return outcome

    step("health", lambda: check_health(send))
    if through_gateway:  # the authorizer is API Gateway's; a direct invoke skips it
        step("token required", lambda: check_token_required(send))
    if sign_in is None:  # a dev stack without a test user: the unauthenticated checks only
        report("skip sign in, me, ready, search: no test user")
        return failures
    token = step("sign in", sign_in)
    if isinstance(token, str):
        step("me", lambda: check_me(send, token, username))
        step("ready", lambda: check_ready(send, token))
        step("search", lambda: check_search(send, token))
    return failures
