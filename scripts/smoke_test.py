"""Smoke-test a deployed stack: sign in to its user pool and use the API like a client.

    python -m scripts.smoke_test --stack demobackend-staging [--region eu-west-1]
    python -m scripts.smoke_test --api-url URL --user-pool-id ID --client-id ID

The test user's name and password come from SMOKE_USERNAME and SMOKE_PASSWORD (never the
command line, which process lists and CI logs show). Sign-in is ADMIN_USER_PASSWORD_AUTH,
so the caller's AWS credentials need cognito-idp:AdminInitiateAuth on the pool (the deploy
role has it); with --stack they also read the stack's outputs.

The checks are ops/smoke.py's (health, the authorizer refuses a request without a token,
sign-in, ``me``, readiness, a search), over HTTPS here. Exit 0 when all pass, else 1 with
one line per failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import boto3

from ops.smoke import ATTEMPTS, Response, Send, SmokeFailure, run_checks, sign_in

TIMEOUT_SECONDS = 30.0
RETRY_DELAY_SECONDS = 2.0
USER_AGENT = "demobackend-smoke-test"


@dataclass(frozen=True)
class Target:
    api_url: str
    user_pool_id: str
    client_id: str


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


def over_https(api_url: str) -> Send:
    def send(
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        token: str | None = None,
        attempts: int = ATTEMPTS,
    ) -> Response:
        return http(method, f"{api_url}{path}", body=body, token=token, attempts=attempts)

    return send


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
    failures = run_checks(
        over_https(target.api_url),
        lambda: sign_in(cognito, target.user_pool_id, target.client_id, username, password),
        username,
        print,
    )
    if failures:
        print(f"smoke test: {len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("smoke test: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
