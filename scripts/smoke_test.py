"""Smoke-test a deployed stack: sign in to its user pool and use the API like a client.

    python -m scripts.smoke_test --stack demobackend-staging [--region eu-west-1]
    python -m scripts.smoke_test --api-url URL --user-pool-id ID --client-id ID

The test user's name and password come from SMOKE_USERNAME and SMOKE_PASSWORD (never the
command line, which process lists and CI logs show). Sign-in is ADMIN_USER_PASSWORD_AUTH,
so the caller's AWS credentials need cognito-idp:AdminInitiateAuth on the pool (the deploy
role has it); with --stack they also read the stack's outputs.

Checks, in order: GET /healthz answers ok; POST /graphql without a token is refused
(the authorizer is on); sign-in yields an ID token; ``{ me { id username } }`` returns
the signed-in user; GET /readyz with the token says ready. Exit 0 when all pass, else 1
with one line per failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import boto3

ME_QUERY = "{ me { id username } }"
TIMEOUT_SECONDS = 30.0
ATTEMPTS = 3  # a fresh deployment's first requests may meet cold starts or a rollout
RETRY_DELAY_SECONDS = 2.0
USER_AGENT = "demobackend-smoke-test"


class SmokeFailure(Exception):
    """One check failed; the message says which and how."""


@dataclass(frozen=True)
class Target:
    api_url: str
    user_pool_id: str
    client_id: str


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise SmokeFailure(f"answer is not JSON: {self.body[:200]!r}") from None


def http(
    method: str,
    url: str,
    *,
    body: dict[str, Any] | None = None,
    token: str | None = None,
    attempts: int = ATTEMPTS,
) -> Response:
    """One request; 5xx answers and connection errors are retried a few times."""
    if not url.startswith(("https://", "http://")):
        raise SmokeFailure(f"not an http(s) URL: {url}")
    headers = {"accept": "application/json", "user-agent": USER_AGENT}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    last: Response | None = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(RETRY_DELAY_SECONDS * attempt)
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - scheme checked above
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
                last = Response(answer.status, answer.read())
        except urllib.error.HTTPError as error:
            last = Response(error.code, error.read())
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            if attempt == attempts - 1:
                raise SmokeFailure(f"{method} {url}: {error}") from None
            continue
        if last.status < 500:
            return last
    assert last is not None
    return last


def sign_in(cognito: Any, target: Target, username: str, password: str) -> str:
    """An ID token for the test user (ADMIN_USER_PASSWORD_AUTH)."""
    try:
        answer = cognito.admin_initiate_auth(
            UserPoolId=target.user_pool_id,
            ClientId=target.client_id,
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


def check_health(target: Target) -> None:
    answer = http("GET", f"{target.api_url}/healthz")
    if answer.status != 200 or answer.json().get("status") != "ok":
        raise SmokeFailure(f"GET /healthz answered {answer.status} {answer.body[:200]!r}")


def check_token_required(target: Target) -> None:
    answer = http("POST", f"{target.api_url}/graphql", body={"query": ME_QUERY}, attempts=1)
    if answer.status not in (401, 403):
        raise SmokeFailure(f"POST /graphql without a token answered {answer.status}, not 401")


def check_me(target: Target, token: str, username: str) -> str:
    answer = http("POST", f"{target.api_url}/graphql", body={"query": ME_QUERY}, token=token)
    document = answer.json() if answer.status == 200 else {}
    me = (document.get("data") or {}).get("me") or {}
    if answer.status != 200 or document.get("errors") or not me.get("id"):
        raise SmokeFailure(f"{ME_QUERY} answered {answer.status} {answer.body[:300]!r}")
    if str(me.get("username", "")).lower() != username.lower():
        raise SmokeFailure(f"me is {me.get('username')!r}, signed in as {username!r}")
    return str(me["id"])


def check_ready(target: Target, token: str) -> None:
    answer = http("GET", f"{target.api_url}/readyz", token=token)
    if answer.status != 200 or answer.json().get("status") != "ready":
        raise SmokeFailure(f"GET /readyz answered {answer.status} {answer.body[:200]!r}")


def stack_target(cloudformation: Any, stack: str) -> Target:
    stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    try:
        return Target(
            api_url=outputs["ApiUrl"].rstrip("/"),
            user_pool_id=outputs["UserPoolId"],
            client_id=outputs["UserPoolClientId"].split(",")[0],
        )
    except KeyError as missing:
        raise SmokeFailure(f"stack {stack} has no output {missing}") from None


def run_checks(
    target: Target, cognito: Any, username: str, password: str, report: Callable[[str], None]
) -> list[str]:
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

    step("health", lambda: check_health(target))
    step("token required", lambda: check_token_required(target))
    token = step("sign in", lambda: sign_in(cognito, target, username, password))
    if isinstance(token, str):
        step("me", lambda: check_me(target, token, username))
        step("ready", lambda: check_ready(target, token))
    return failures


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.smoke_test", description=__doc__)
    parser.add_argument("--stack", help="read ApiUrl, UserPoolId, UserPoolClientId from it")
    parser.add_argument("--api-url")
    parser.add_argument("--user-pool-id")
    parser.add_argument("--client-id")
    parser.add_argument("--region", default=None, help="default: AWS_REGION / the profile's")
    parser.add_argument("--endpoint-url", default=None, help="an AWS emulator (tests)")
    return parser


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    args = _parser().parse_args(argv)
    env = os.environ if environ is None else environ
    username, password = env.get("SMOKE_USERNAME", ""), env.get("SMOKE_PASSWORD", "")
    if not username or not password:
        print("smoke test: set SMOKE_USERNAME and SMOKE_PASSWORD", file=sys.stderr)
        return 2
    session = boto3.session.Session(region_name=args.region)
    try:
        if args.stack:
            target = stack_target(
                session.client("cloudformation", endpoint_url=args.endpoint_url), args.stack
            )
        elif args.api_url and args.user_pool_id and args.client_id:
            target = Target(args.api_url.rstrip("/"), args.user_pool_id, args.client_id)
        else:
            print("smoke test: give --stack, or --api-url, --user-pool-id and --client-id")
            return 2
    except SmokeFailure as failure:
        print(f"smoke test: {failure}", file=sys.stderr)
        return 1
    cognito = session.client("cognito-idp", endpoint_url=args.endpoint_url)
    print(f"smoke test: {target.api_url} as {username}")
    failures = run_checks(target, cognito, username, password, print)
    if failures:
        print(f"smoke test: {len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("smoke test: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
