"""The Lambda path, warm: the handler invoked with an API Gateway HTTP API (payload 2.0)
event, per invocation, against bare ``schema.execute`` of the same query, in one run.

- **handler**: ``api.lambda_handler.LambdaHandler`` as built for Lambda (its fast path for
  ``POST /graphql``, api/lambda_graphql.py: Mangum's event translation, request id,
  deadline, observability with its JSON log line, token verification, the profile check,
  the GraphQL view, JSON both ways) called as the
  runtime calls it, ``handler(event, context)``, with a recorded event (the shape of
  tests/support/apigw_events.py) carrying a bearer token;
- **schema.execute**: the same schema, services and query with a ready Context (no event,
  no HTTP, no token, no profile check), run to completion on the same event loop, one
  ``run_until_complete`` per invocation as Mangum does.

Both over the same in-memory store seeded as bench/request_overhead.py seeds it (25
files of one user), so the ratio is what the Lambda path adds, not a store's latency.
Queries: ``me`` and the 20-file page with owners. Kinds alternate; median of ``--runs``
samples of ``--invocations`` sequential invocations. Target: handler <= 1.3x execute.

Run: `.venv/bin/python -m bench.lambda_warm [--runs 15 --invocations 40]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from api.lambda_handler import LambdaHandler
from bench.figures import Figure
from bench.request_overhead import QUERY as PAGE_QUERY
from bench.request_overhead import _check, _setup
from resolvers.context import Context
from resolvers.limits import QueryLimits
from resolvers.schema import build_schema
from tests.support.apigw_events import LambdaContext, http_api_event

COMMAND = ".venv/bin/python -m bench.lambda_warm"
ME_QUERY = "query Me { me { username } }"
QUERIES = {"me": ME_QUERY, "page": PAGE_QUERY}
TARGET = 1.3


@dataclass(frozen=True)
class WarmResult:
    runs: int
    invocations: int
    per_call_ms: dict[str, float]  # "me: handler" -> median ms per invocation

    def ratio(self, query: str) -> float:
        return self.per_call_ms[f"{query}: handler"] / self.per_call_ms[f"{query}: execute"]


def _checked(query: str, data: Any) -> None:
    if query == "page":
        _check(data)
    elif (data or {}).get("me", {}).get("username") != "bench":
        raise RuntimeError(f"unexpected answer: {str(data)[:200]}")


def _per_call_ms(call: Callable[[], None], invocations: int) -> float:
    started = time.perf_counter()
    for _ in range(invocations):
        call()
    return (time.perf_counter() - started) * 1000 / invocations


def _measure(runs: int, invocations: int, data_dir: str) -> dict[str, list[float]]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # Mangum runs every invocation on the current loop
    try:
        setup = loop.run_until_complete(_setup(data_dir))
        handler = LambdaHandler(setup.deps)
        settings = setup.settings
        limits = QueryLimits(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_aliases,
            max_tokens=settings.max_query_tokens,
            max_cost=settings.max_query_cost,
        )
        schema = build_schema(introspection=settings.introspection_enabled, limits=limits)
        lambda_context = LambdaContext()
        headers = {"authorization": f"Bearer {setup.token}"}
        calls: dict[str, Callable[[], None]] = {}
        for name, query in QUERIES.items():
            event = http_api_event("POST", "/graphql", body={"query": query}, headers=headers)

            def invoke(name: str = name, event: dict[str, Any] = event) -> None:
                response = handler(json.loads(json.dumps(event)), lambda_context)
                if response["statusCode"] != 200:
                    raise RuntimeError(f"{response['statusCode']}: {response['body'][:200]}")
                _checked(name, json.loads(response["body"])["data"])

            def execute(name: str = name, query: str = query) -> None:
                context = Context(
                    request_id="bench", services=setup.deps.services, principal=setup.viewer
                )
                result = loop.run_until_complete(schema.execute(query, context_value=context))
                if result.errors:
                    raise RuntimeError(str(result.errors))
                _checked(name, result.data)

            calls[f"{name}: handler"] = invoke
            calls[f"{name}: execute"] = execute
        for call in calls.values():  # warm up: caches filled, code paths run once
            _per_call_ms(call, 5)
        samples: dict[str, list[float]] = {kind: [] for kind in calls}
        for _ in range(runs):
            for kind, call in calls.items():
                samples[kind].append(_per_call_ms(call, invocations))
        loop.run_until_complete(setup.deps.aclose())
        return samples
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def measure(runs: int = 15, invocations: int = 40) -> WarmResult:
    with tempfile.TemporaryDirectory() as data_dir:
        # The request log line goes to stdout: written, not shown.
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            samples = _measure(runs, invocations, data_dir)
    medians = {kind: statistics.median(values) for kind, values in samples.items()}
    return WarmResult(runs, invocations, medians)


def figures(result: WarmResult, command: str = COMMAND) -> list[Figure]:
    return [
        Figure(
            name=f"lambda warm: {query}",
            what="handler(event, context) with an HTTP API v2 event, per invocation",
            command=command,
            value=result.per_call_ms[f"{query}: handler"],
            unit="ms",
            baseline=result.per_call_ms[f"{query}: execute"],
            baseline_what="bare schema.execute of the same query, same loop and store",
            target=TARGET,
        )
        for query in QUERIES
    ]


def report(result: WarmResult) -> str:
    lines = [f"per invocation, median of {result.runs} x {result.invocations} invocations"]
    for kind, ms in result.per_call_ms.items():
        lines.append(f"  {kind:16s} {ms:7.3f} ms")
    for query in QUERIES:
        ratio = result.ratio(query)
        lines.append(f"  {query}: handler / execute {ratio:.3f}x (target <= {TARGET}x)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--invocations", type=int, default=40)
    args = parser.parse_args(argv)
    print(report(measure(args.runs, args.invocations)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
