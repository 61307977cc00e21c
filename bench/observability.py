"""Per-request overhead of observability, and the cold-start cost of tracing.

1. The same authenticated query (`query Me { me { username } }`: the profile check and
   one user read on SQLite) against the app built with observability off
   (`build_app(..., observe=False)`) and on (JSON log line, Prometheus metrics), and as
   the Lambda records it: the log line and EMF documents (the request marked as coming
   through Lambda, as Mangum marks it; Prometheus off: METRICS_ENDPOINT is off by default
   on the AWS backend, so a Lambda keeps no registry nobody scrapes), all
   in-process through httpx's ASGITransport, alternating; per-request median of
   `--runs` samples of `--requests` sequential requests each. Log and EMF lines go to
   /dev/null (written, not shown). Target: on/off <= 1.10x.
2. Cold import + app build in fresh interpreters with TRACING off vs on (on imports the
   X-Ray SDK through Powertools' Tracer).

Run: `.venv/bin/python -m bench.observability [--runs 21 --requests 50 --cold-runs 9]`.
"""

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from api.app import build_app
from api.bootstrap import build_deps
from api.settings import load_settings
from bench.figures import Figure

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ".venv/bin/python -m bench.observability"
QUERY = {"query": "query Me { me { username } }"}
COLD = "from api.app import build_app; from api.settings import load_settings; " + (
    "build_app(load_settings())"
)


def as_if_lambda(app: ASGIApp) -> ASGIApp:
    async def marked(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, "aws.event": {}}, receive, send)

    return marked


async def per_request_ms(client: httpx.AsyncClient, token: str, requests: int) -> float:
    headers = {"authorization": f"Bearer {token}"}
    started = time.perf_counter()
    for _ in range(requests):
        response = await client.post("/graphql", json=QUERY, headers=headers)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
    return (time.perf_counter() - started) * 1000 / requests


async def overhead(data_dir: str, runs: int, requests: int) -> dict[str, list[float]]:
    settings = load_settings(data_dir=data_dir)
    deps = build_deps(settings)
    assert deps.dev_idp is not None
    token = (await deps.dev_idp.issue_tokens_for("bench")).id_token
    apps: dict[str, Any] = {
        "off": build_app(settings, deps, observe=False),
        "on (logs + Prometheus)": build_app(settings, deps),
        "on + EMF (Lambda path)": as_if_lambda(
            build_app(load_settings(data_dir=data_dir, metrics_endpoint=False), deps)
        ),
    }
    samples: dict[str, list[float]] = {name: [] for name in apps}
    async with contextlib.AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b")
            )
            for name, app in apps.items()
        }
        for client in clients.values():  # warm up: profile created, caches filled
            await per_request_ms(client, token, 5)
        for _ in range(runs):
            for name, client in clients.items():
                samples[name].append(await per_request_ms(client, token, requests))
    await deps.aclose()
    return samples


def cold_samples(data_dir: str, runs: int) -> dict[str, list[float]]:
    envs = {
        "tracing off": {**os.environ, "DEMOBACKEND_DATA_DIR": data_dir, "DEMOBACKEND_TRACING": "0"},
        "tracing on": {**os.environ, "DEMOBACKEND_DATA_DIR": data_dir, "DEMOBACKEND_TRACING": "1"},
    }
    samples: dict[str, list[float]] = {name: [] for name in envs}
    for env in envs.values():  # warm bytecode and page caches
        subprocess.run([sys.executable, "-c", COLD], cwd=ROOT, env=env, check=True)
    for _ in range(runs):
        for name, env in envs.items():
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", COLD], cwd=ROOT, env=env, check=True)
            samples[name].append((time.perf_counter() - started) * 1000)
    return samples


@dataclass(frozen=True)
class ObservabilityResult:
    runs: int
    requests: int
    cold_runs: int
    per_request_ms: dict[str, float]  # kind -> median
    cold_ms: dict[str, float]


def measure(runs: int = 21, requests: int = 50, cold_runs: int = 9) -> ObservabilityResult:
    with tempfile.TemporaryDirectory() as data_dir:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            per_request = asyncio.run(overhead(data_dir, runs, requests))
        cold = cold_samples(data_dir, cold_runs)
    return ObservabilityResult(
        runs,
        requests,
        cold_runs,
        {name: statistics.median(times) for name, times in per_request.items()},
        {name: statistics.median(times) for name, times in cold.items()},
    )


def figures(result: ObservabilityResult, command: str = COMMAND) -> list[Figure]:
    ms, cold = result.per_request_ms, result.cold_ms
    return [
        Figure(
            name="observability: logs + metrics per request",
            what="query Me over ASGI, observability on vs off",
            command=command,
            value=ms["on (logs + Prometheus)"],
            unit="ms",
            baseline=ms["off"],
            baseline_what="build_app(observe=False)",
            target=1.10,
        ),
        Figure(
            name="observability: + EMF (Lambda path)",
            what="logs + CloudWatch EMF documents, Prometheus off (as on Lambda)",
            command=command,
            value=ms["on + EMF (Lambda path)"],
            unit="ms",
            baseline=ms["off"],
            baseline_what="build_app(observe=False)",
            target=1.10,
        ),
        Figure(
            name="observability: tracing at cold start",
            what="import + build_app, TRACING on vs off (X-Ray SDK loaded only when on)",
            command=command,
            value=cold["tracing on"],
            unit="ms",
            baseline=cold["tracing off"],
            baseline_what="tracing off",
        ),
    ]


def report(result: ObservabilityResult) -> str:
    base = result.per_request_ms["off"]
    lines = [f"per request, median of {result.runs} x {result.requests} sequential requests"]
    for name, median in result.per_request_ms.items():
        lines.append(f"  {name:24s} {median:6.3f} ms   ratio {median / base:.3f}x")
    lines.append("  (target on/off <= 1.10x)")
    cold_base = result.cold_ms["tracing off"]
    lines.append(f"cold import + build_app, fresh interpreter, median of {result.cold_runs}")
    for name, median in result.cold_ms.items():
        lines.append(f"  {name:24s} {median:6.1f} ms   ratio {median / cold_base:.3f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--cold-runs", type=int, default=9)
    args = parser.parse_args(argv)
    print(report(measure(args.runs, args.requests, args.cold_runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
