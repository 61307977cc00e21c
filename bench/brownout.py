"""Brown-out: the read mix (me, a 20-file page, search) against the real server on
BACKEND=aws, with 200 ms added to 30 % of DynamoDB calls, with and without the resilience
machinery (deadlines, circuit breakers, retry budget; DEMOBACKEND_RESILIENCE=false is
the baseline). Plus what that machinery costs on a healthy path.

- DynamoDB and S3: moto's server on 127.0.0.1, behind tests/support/fault_proxy.py, which adds the
  latency and timestamps every call; sign-in through the local dev identity provider.
- Per run: p50/p99 of every request, error rate (non-2xx or GraphQL errors), how often a
  breaker opened, and how many DynamoDB calls arrived while the items breaker was open
  (from the server's one log line per state change and the proxy's arrival times) and
  the most in one half-open interval (target: one, the trial).
- Healthy overhead: the same GraphQL requests (me, and a page of 20 files) through the
  whole local app in-process, resilience on vs off, alternating, median of runs of the
  process's CPU time per request (observability off in both, so its cost does not dilute
  the ratio). Target <= 1.03x.

The "with" run uses a short deadline (``--deadline``, default 1 s: between the
baseline's p50 and p99 on moto here) so that the brown-out actually reaches it; with the
default 10 s nothing in this mix would, and both runs would be alike. Uploads are left
out: the generator speaks PUT, S3 uploads are a POST form. moto is slow (every
transaction copies the table, and the proxy serialises DynamoDB calls to keep moto
consistent), so absolute times are moto's; compare the two runs.

Run: `.venv/bin/python -m bench.brownout [--seconds 10] [--connections 8] [--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from bench.figures import Figure
from bench.load import LevelResult, run_level
from bench.load_client import COMPLETE, CREATE
from ops.emulated_aws import EmulatedStack, provision
from tests.support.fault_proxy import Fault, FaultProxy, fault_proxy
from tests.support.moto_server import (
    REGION,
    cognito_client,
    dynamodb_client,
    moto_server,
    s3_client,
)
from tests.support.server_process import RunningServer, running_server

COMMAND = ".venv/bin/python -m bench.brownout"
USERS = 2
FILES_PER_USER = 3  # moto copies the whole table on every transaction: keep it small
PASSWORD = "brown-out bench password"
LATENCY_SECONDS = 0.2
LATENCY_SHARE = 0.3
OVERHEAD_TARGET = 1.03
CONTENT = b"brown-out seed file, a quarterly report\n"
SEED_CREATE = (
    "mutation Create($input: CreateUploadInput!) { createUpload(input: $input) "
    "{ file { id } upload { url method fields } } }"
)


@dataclass
class BrownoutRun:
    name: str  # "with" | "without"
    level: LevelResult
    opened: int = 0
    calls_while_open: int = 0
    half_open_intervals: int = 0
    max_calls_per_half_open: int = 0
    dynamodb_calls: int = 0
    transitions: list[str] = field(default_factory=list)

    @property
    def error_rate(self) -> float:
        return self.level.errors / self.level.requests if self.level.requests else 0.0


@dataclass
class Overhead:
    on_ms: float
    off_ms: float
    samples: int
    per_call_us: float = 0.0  # deadline + breaker around one store call, isolated

    @property
    def ratio(self) -> float:
        return self.on_ms / self.off_ms


@dataclass
class BrownoutResult:
    runs: list[BrownoutRun]
    overhead: Overhead
    deadline: float


# --- the stack and the server ---------------------------------------------------------


def _env(
    stack: EmulatedStack, proxy: FaultProxy, *, resilient: bool, deadline: float
) -> dict[str, str]:
    env = stack.settings_env(proxy.endpoint, REGION)
    env.update(
        {
            "DEMOBACKEND_AUTH_MODE": "local",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "DEMOBACKEND_RESILIENCE": "true" if resilient else "false",
            "DEMOBACKEND_REQUEST_TIMEOUT_SECONDS": str(deadline),
            "DEMOBACKEND_BREAKER_RESET_SECONDS": "1",
        }
    )
    return env


def _sign_in(http: httpx.Client, username: str) -> str:
    body = {"username": username, "password": PASSWORD}
    signup = http.post("/auth/signup", json=body)
    if signup.status_code not in (201, 409):
        raise RuntimeError(f"signup: {signup.status_code} {signup.text[:200]}")
    answer = http.post("/auth/token", json=body)
    answer.raise_for_status()
    return str(answer.json()["idToken"])


def _seed(http: httpx.Client, token: str, username: str) -> None:
    import hashlib

    headers = {"authorization": f"Bearer {token}"}
    for n in range(FILES_PER_USER):
        declared = {
            "name": f"{username}-report-{n:02}.txt",
            "contentType": "text/plain",
            "size": len(CONTENT),
            "sha256": hashlib.sha256(CONTENT).hexdigest(),
        }
        made = http.post(
            "/graphql",
            json={"query": SEED_CREATE, "variables": {"input": declared}},
            headers=headers,
        ).json()["data"]["createUpload"]
        upload = made["upload"]
        # S3's presigned POST: the policy's fields, then the file part.
        form = upload.get("fields") or {}
        part = ("f.txt", CONTENT, form.get("Content-Type", "text/plain"))
        sent = httpx.post(upload["url"], data=form, files={"file": part}, timeout=30)
        sent.raise_for_status()
        done = http.post(
            "/graphql",
            json={"query": COMPLETE, "variables": {"id": made["file"]["id"]}},
            headers=headers,
        )
        if "errors" in done.json():
            raise RuntimeError(f"seed completeUpload: {done.text[:200]}")


@contextmanager
def _stack() -> Iterator[tuple[EmulatedStack, FaultProxy]]:
    with moto_server() as endpoint, fault_proxy(endpoint) as proxy:
        stack = provision(
            dynamodb=dynamodb_client(endpoint),
            s3=s3_client(endpoint),
            cognito=cognito_client(endpoint),
            name="brownout",
            region=REGION,
        )
        yield stack, proxy


# --- breaker windows from the server's log ---------------------------------------------


def _transitions(server: RunningServer) -> list[tuple[float, str, str]]:
    """(epoch seconds, from, to) of the items breaker, from its log lines."""
    found = []
    for line in server.output().splitlines():
        if '"circuit breaker items:' not in line:
            continue
        record = json.loads(line)
        when = datetime.strptime(record["timestamp"], "%Y-%m-%d %H:%M:%S,%f%z").timestamp()
        found.append((when, record["breaker_from"], record["breaker_to"]))
    return found


def _windows(run: BrownoutRun, server: RunningServer, proxy: FaultProxy, start: int) -> None:
    changes = _transitions(server)
    calls = [when for when, op in proxy.arrivals[start:] if op.startswith("dynamodb")]
    run.dynamodb_calls = len(calls)
    run.transitions = [f"{a}->{b}" for _, a, b in changes]
    end = time.time()
    for index, (when, _, to) in enumerate(changes):
        until = changes[index + 1][0] if index + 1 < len(changes) else end
        inside = sum(when <= t < until for t in calls)
        if to == "open":
            run.opened += 1
            run.calls_while_open += inside
        elif to == "half_open":
            run.half_open_intervals += 1
            run.max_calls_per_half_open = max(run.max_calls_per_half_open, inside)


def _brownout(
    stack: EmulatedStack,
    proxy: FaultProxy,
    data_dir: Path,
    *,
    resilient: bool,
    deadline: float,
    seconds: float,
    connections: int,
    tokens: list[str] | None,
) -> tuple[BrownoutRun, list[str]]:
    env = _env(stack, proxy, resilient=resilient, deadline=deadline)
    data_dir.mkdir(exist_ok=True)
    with running_server(data_dir, **env) as server:
        with httpx.Client(base_url=server.base_url, timeout=60, trust_env=False) as http:
            if tokens is None:
                names = [f"brownout{i}" for i in range(USERS)]
                tokens = [_sign_in(http, name) for name in names]
                try:
                    for token, name in zip(tokens, names, strict=True):
                        _seed(http, token, name)
                except Exception:
                    print(server.output()[-4000:], file=sys.stderr)
                    raise
        port = int(server.base_url.rsplit(":", 1)[1])
        proxy.inject("dynamodb", Fault("latency", rate=LATENCY_SHARE, seconds=LATENCY_SECONDS))
        start = len(proxy.arrivals)
        try:
            level = run_level(
                port,
                server.process.pid,
                target="reads",
                connections=connections,
                seconds=seconds,
                max_requests=1_000_000,
                tokens=tokens,
            )
        finally:
            proxy.clear()
        run = BrownoutRun("with" if resilient else "without", level)
        _windows(run, server, proxy, start)
    return run, tokens


# --- healthy-path overhead ---------------------------------------------------------------


async def _overhead(runs: int, requests: int) -> Overhead:
    from api.app import build_app
    from api.bootstrap import build_deps
    from api.settings import load_settings

    page = "query Page { myFiles(first: 20) { edges { node { id name owner { username } } } } }"
    clients = {}
    closers = []
    with tempfile.TemporaryDirectory() as tmp:
        for resilient in (True, False):
            settings = load_settings(data_dir=Path(tmp) / str(resilient), resilience=resilient)
            deps = build_deps(settings)
            closers.append(deps.aclose)
            assert deps.dev_idp is not None
            token = (await deps.dev_idp.issue_tokens_for("alice", ())).id_token
            app = build_app(settings, deps, observe=False)
            http = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://bench",
                headers={"authorization": f"Bearer {token}"},
            )
            for n in range(20):
                declared = {"name": f"f{n}.txt", "contentType": "text/plain", "size": 10}
                await http.post(
                    "/graphql", json={"query": CREATE, "variables": {"input": declared}}
                )
            clients[resilient] = http
        samples: dict[bool, list[float]] = {True: [], False: []}
        for round_ in range(runs + 1):
            order = (True, False) if round_ % 2 else (False, True)
            for resilient in order:
                http = clients[resilient]
                # CPU time of this process (all its threads), not wall time: on a shared
                # machine other processes' turns would swamp a difference of a few percent.
                started = time.process_time()
                for n in range(requests):
                    query = page if n % 2 else "query Me { me { username } }"
                    response = await http.post("/graphql", json={"query": query})
                    assert response.status_code == 200, response.text
                if round_:  # the first round warms both up
                    samples[resilient].append((time.process_time() - started) / requests)
        for http in clients.values():
            await http.aclose()
        for close in closers:
            await close()
    return Overhead(
        on_ms=statistics.median(samples[True]) * 1000,
        off_ms=statistics.median(samples[False]) * 1000,
        samples=runs,
        per_call_us=await _per_call_cost(),
    )


async def _per_call_cost(calls: int = 20_000) -> float:
    """Microseconds the guard adds to one get_many on the in-memory store, inside a
    request deadline: stable where whole requests on a busy machine are not."""
    from adapters.items.memory import InMemoryItemStore
    from adapters.resilience.breaker import CircuitBreaker
    from adapters.resilience.guarded import GuardedItemStore
    from domain.deadline import deadline_in
    from domain.ports import Key

    inner = InMemoryItemStore()
    guarded = GuardedItemStore(inner, CircuitBreaker("items", label="item store"))
    keys = [Key("USER#a", "META")]
    best: dict[bool, float] = {}
    for _ in range(5):
        for wrapped in (False, True):
            store = guarded if wrapped else inner
            with deadline_in(60):
                started = time.process_time()
                for _ in range(calls):
                    await store.get_many(keys)
                spent = (time.process_time() - started) / calls
            best[wrapped] = min(best.get(wrapped, spent), spent)
    return (best[True] - best[False]) * 1e6


# --- the whole bench ----------------------------------------------------------------------


def measure(
    seconds: float = 10.0,
    connections: int = 8,
    deadline: float = 1.0,
    overhead_runs: int = 31,
    overhead_requests: int = 60,
) -> BrownoutResult:
    runs = []
    with tempfile.TemporaryDirectory() as tmp, _stack() as (stack, proxy):
        tokens = None
        for resilient in (False, True):
            run, tokens = _brownout(
                stack,
                proxy,
                Path(tmp) / "data",  # one dev IdP key: the tokens serve both runs
                resilient=resilient,
                deadline=deadline,
                seconds=seconds,
                connections=connections,
                tokens=tokens,
            )
            runs.append(run)
    overhead = asyncio.run(_overhead(overhead_runs, overhead_requests))
    return BrownoutResult(runs, overhead, deadline)


def figures(result: BrownoutResult, command: str = COMMAND) -> list[Figure]:
    without, with_ = (next(r for r in result.runs if r.name == n) for n in ("without", "with"))
    out = [
        Figure(
            name="brown-out: p99",
            what=(
                f"read mix, {LATENCY_SHARE:.0%} of DynamoDB calls "
                f"+{LATENCY_SECONDS * 1000:.0f} ms; "
                f"with deadlines ({result.deadline} s) and breakers vs without; p50 "
                f"{with_.level.p50_ms:.0f} vs {without.level.p50_ms:.0f} ms"
            ),
            command=command,
            value=with_.level.p99_ms,
            unit="ms",
            baseline=without.level.p99_ms,
            baseline_what="RESILIENCE=false",
        ),
        Figure(
            name="brown-out: error rate",
            what=(
                f"non-2xx or GraphQL errors, with vs without ({with_.level.errors} of "
                f"{with_.level.requests} vs {without.level.errors} of {without.level.requests})"
            ),
            command=command,
            value=with_.error_rate * 100,
            unit="%",
            baseline=without.error_rate * 100 if without.error_rate else None,
            baseline_what="RESILIENCE=false",
        ),
        Figure(
            name="brown-out: DynamoDB calls per half-open interval",
            what=(
                f"most calls arriving in one half-open interval ({with_.half_open_intervals} "
                f"intervals; breaker opened {with_.opened}x; {with_.calls_while_open} calls "
                "arrived while open, from requests admitted before it opened)"
                if with_.half_open_intervals
                else "the items breaker did not open in this run (no interval to count)"
            ),
            command=command,
            value=with_.max_calls_per_half_open,
            unit="calls",
            # No interval, nothing checked: a 0 here must not read as a target met.
            target=1 if with_.half_open_intervals else None,
        ),
        Figure(
            name="resilience overhead, healthy path",
            what=(
                f"me + a 20-file page in-process, resilience on / off, median of "
                f"{result.overhead.samples} runs of CPU time ({result.overhead.on_ms:.2f} vs "
                f"{result.overhead.off_ms:.2f} ms per request; the guard alone "
                f"{result.overhead.per_call_us:.1f} us per store call)"
            ),
            command=command,
            value=result.overhead.on_ms,
            unit="ms",
            baseline=result.overhead.off_ms,
            baseline_what="RESILIENCE=false",
            target=OVERHEAD_TARGET,
        ),
    ]
    return out


def report(result: BrownoutResult) -> str:
    lines = [
        f"{'run':8} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>7} "
        f"{'ddb calls':>9} {'opened':>6} {'calls open':>10} {'max/half-open':>13}"
    ]
    for r in result.runs:
        lines.append(
            f"{r.name:8} {r.level.requests:>8} {r.level.throughput:>7.0f} "
            f"{r.level.p50_ms:>7.1f} {r.level.p99_ms:>7.1f} {r.error_rate:>7.1%} "
            f"{r.dynamodb_calls:>9} {r.opened:>6} {r.calls_while_open:>10} "
            f"{r.max_calls_per_half_open:>13}"
        )
        lines.extend(f"    error: {sample}" for sample in r.level.error_samples[:3])
    overhead = result.overhead
    lines.append(
        f"healthy path in-process: {overhead.on_ms:.3f} ms with, {overhead.off_ms:.3f} ms "
        f"without -> {overhead.ratio:.3f}x (target <= {OVERHEAD_TARGET}x); the guard alone "
        f"adds {overhead.per_call_us:.1f} us per store call"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per brown-out run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--deadline", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true", help="4 s runs, 7 overhead runs")
    args = parser.parse_args(argv)
    seconds, runs = (4.0, 7) if args.quick else (args.seconds, 31)
    result = measure(seconds, args.connections, args.deadline, overhead_runs=runs)
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
