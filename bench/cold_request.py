"""The first request after a cold start on the AWS composition, reported beside importing
the frameworks alone.

Each sample is a fresh interpreter that imports ``api.lambda_handler`` and invokes
``handler(event, context)`` twice with the same HTTP API v2 event (``query Me { me {
username } }`` with a Cognito ID token): the first invocation builds the handler
(settings, boto3 clients, the app) and fetches the JWKS, then verifies the token, reads
the profile and answers; the second is warm. DynamoDB, S3 and Cognito (and so the JWKS
endpoint) are moto's server on 127.0.0.1 (tests/support/aws_app.py), a local stub: the
figure is our process's work plus loopback round trips, not AWS latency. The baseline,
alternating with the samples, is a fresh interpreter importing the frameworks
(bench/cold_import.py's "frameworks only").

Run: `.venv/bin/python -m bench.cold_request [--runs 7]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from bench.cold_import import (
    FRAMEWORKS,
    ROOT,
    STATEMENTS,
    UNTIL_READY,
    until_ready,
    with_bytecode,
)
from bench.figures import Figure
from tests.support.apigw_events import http_api_event

COMMAND = ".venv/bin/python -m bench.cold_request"
QUERY = "query Me { me { username } }"
_CHILD = """
import json, sys, time
started = time.perf_counter()
import api.lambda_handler as entry
imported = time.perf_counter()

class Context:
    function_name = "demobackend-api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:demobackend-api"
    aws_request_id = "cold-1"
    def get_remaining_time_in_millis(self):
        return 30_000

event = json.loads(sys.argv[1])
first = entry.handler(json.loads(json.dumps(event)), Context())
answered = time.perf_counter()
second = entry.handler(json.loads(json.dumps(event)), Context())
again = time.perf_counter()
for response in (first, second):
    body = json.loads(response["body"])
    assert response["statusCode"] == 200 and "errors" not in body, response
sys.stderr.write(json.dumps({
    "import_ms": (imported - started) * 1000,
    "first_ms": (answered - imported) * 1000,
    "second_ms": (again - answered) * 1000,
}) + "\\n")
sys.stderr.flush()
""" + UNTIL_READY[2:]  # the same end as bench/cold_import.py's samples


@dataclass(frozen=True)
class ColdRequestResult:
    runs: int
    frameworks_ms: float  # fresh interpreter importing the frameworks (wall, median)
    process_ms: float  # fresh interpreter to the first answer (wall, median)
    import_ms: float
    first_ms: float  # the first invocation: build, JWKS, verify, profile, answer
    second_ms: float


def _wall(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"cold request failed:\n{done.stderr[-2000:]}")
    return (time.perf_counter() - started) * 1000, done.stderr


def measure(runs: int = 7) -> ColdRequestResult:
    from tests.support.aws_app import aws_stack
    from tests.support.moto_server import REGION

    with aws_stack() as app:
        token = app.token("coldbench")
        env = {**with_bytecode(os.environ), **app.stack.settings_env(app.endpoint, REGION)}
        headers = {"authorization": f"Bearer {token}"}
        event = json.dumps(
            http_api_event("POST", "/graphql", body={"query": QUERY}, headers=headers)
        )
        child = [sys.executable, "-c", _CHILD, event]
        base = [sys.executable, "-c", until_ready(STATEMENTS[FRAMEWORKS])]
        _wall(child, env)  # the profile is created once, outside the samples
        walls: list[float] = []
        frameworks: list[float] = []
        steps: list[dict[str, float]] = []
        for _ in range(runs):
            frameworks.append(_wall(base, env)[0])
            wall, err = _wall(child, env)
            walls.append(wall)
            steps.append(json.loads(err.strip().splitlines()[-1]))
    return ColdRequestResult(
        runs=runs,
        frameworks_ms=statistics.median(frameworks),
        process_ms=statistics.median(walls),
        import_ms=statistics.median(s["import_ms"] for s in steps),
        first_ms=statistics.median(s["first_ms"] for s in steps),
        second_ms=statistics.median(s["second_ms"] for s in steps),
    )


def figures(result: ColdRequestResult, command: str = COMMAND) -> list[Figure]:
    return [
        Figure(
            name="cold start: first request (aws, JWKS from a local stub)",
            what=(
                f"fresh interpreter to the first `me` answer: import {result.import_ms:.0f} ms, "
                f"first invocation {result.first_ms:.0f} ms (build, JWKS, verify, profile), "
                f"second {result.second_ms:.1f} ms; moto on 127.0.0.1"
            ),
            command=command,
            value=result.process_ms,
            unit="ms",
            baseline=result.frameworks_ms,
            baseline_what="fresh interpreter importing the frameworks",
        )
    ]


def report(result: ColdRequestResult) -> str:
    return "\n".join(
        [
            f"median of {result.runs} fresh interpreters, alternating with the baseline",
            f"  frameworks only (import)           {result.frameworks_ms:8.1f} ms",
            f"  to the first `me` answer (aws)     {result.process_ms:8.1f} ms   "
            f"ratio {result.process_ms / result.frameworks_ms:.3f}x",
            f"    import api.lambda_handler        {result.import_ms:8.1f} ms",
            f"    first invocation                 {result.first_ms:8.1f} ms",
            f"    second invocation (warm)         {result.second_ms:8.1f} ms",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    print(report(measure(args.runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
