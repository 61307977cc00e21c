"""Load: the real local server (``demobackend serve``: uvicorn, SQLite, local blobs) on
127.0.0.1 under a closed-loop load at several concurrency levels, beside a bare Starlette
"hello" app under the same uvicorn driven by the same generator (the HTTP ceiling here).

- Mix (bench/load_client.py): me 30%, a 20-file page with owners 35%, search 20%, upload
  15% (createUpload, PUT bytes to the signed URL, completeUpload); 4 users, each seeded
  with 21 files; every connection signs in as one of them.
- Per level: throughput (requests/s), p50/p95/p99 latency of every HTTP request, errors
  (must be 0), server CPU share, generator CPU share (the generator must not be the limit).
- Memory: the server's peak RSS (VmHWM) after all the runs (>= 10k requests in the default
  run), and its RSS after two consecutive identical runs: growth beyond noise is a leak.
- With wrk installed, ``wrk`` on the hello app too: a C generator's ceiling to compare
  ours with.

Run: `.venv/bin/python -m bench.load [--levels 1 8 32] [--seconds 8] [--quick]`;
`--profile FILE` serves under pyinstrument and writes the server's profile to FILE.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.figures import Figure
from bench.load_client import COMPLETE, CREATE
from tests.support.server_process import ROOT, free_port, running_server, server_env

COMMAND = ".venv/bin/python -m bench.load"
USERS = 4
FILES_PER_USER = 21
PASSWORD = "load bench password 1"
LEAK_TOLERANCE_MIB = 4.0  # allocator and SQLite page-cache noise between two runs
# The tail users feel: p99 of every mix request at these connection counts.
P99_TARGETS_MS = {8: 100.0, 32: 250.0}


@dataclass
class LevelResult:
    target: str  # "app" | "hello"
    connections: int
    requests: int
    errors: int
    elapsed_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    generator_cpu: float  # busiest generator process: CPU seconds per wall second
    server_cpu: float  # server process: CPU seconds per wall second
    error_samples: list[str] = field(default_factory=list)
    by_op: dict[str, int] = field(default_factory=dict)
    p50_by_op_ms: dict[str, float] = field(default_factory=dict)
    # What makes the tail: each operation's p99 and its share of the requests over the
    # level's p99.
    p99_by_op_ms: dict[str, float] = field(default_factory=dict)
    tail_share_by_op: dict[str, float] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0


@dataclass
class LoadResult:
    levels: list[LevelResult]
    rss_start_mib: float
    rss_run1_mib: float
    rss_run2_mib: float
    peak_rss_mib: float
    served: int
    wrk_hello_rps: float | None
    wrk_connections: int
    leak_runs: list[LevelResult]

    def level(self, target: str, connections: int) -> LevelResult:
        return next(r for r in self.levels if r.target == target and r.connections == connections)


def _status_mib(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{key} not in /proc/{pid}/status")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run_level(
    port: int,
    server_pid: int,
    *,
    target: str,
    connections: int,
    seconds: float,
    max_requests: int,
    tokens: list[str],
    seed: int = 0,
) -> LevelResult:
    """Drive one server with ``connections`` connections spread over one or two generator
    processes (two once there is more than one connection: one process per core)."""
    processes = 1 if connections == 1 else 2
    shares = [connections // processes + (i < connections % processes) for i in range(processes)]
    cpu_before, started = _cpu_seconds(server_pid), time.perf_counter()
    children = []
    for index, share in enumerate(shares):
        plan = {
            "host": "127.0.0.1",
            "port": port,
            "connections": share,
            "duration_s": seconds,
            "max_requests": max(1, max_requests // processes),
            "mix": target,
            "tokens": tokens[index::processes] or tokens,
            "seed": seed * 10 + index,
        }
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "bench.load_client", json.dumps(plan)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    for child in children:
        out, _ = child.communicate(timeout=seconds + 120)
        if child.returncode != 0:
            raise RuntimeError(f"load generator failed ({child.returncode})")
        outputs.append(json.loads(out))
    wall = time.perf_counter() - started
    server_cpu = (_cpu_seconds(server_pid) - cpu_before) / wall
    per_op: dict[str, list[float]] = {}
    for out in outputs:
        for op, values in out["latencies_ms"].items():
            per_op.setdefault(op, []).extend(values)
    latencies = sorted(x for values in per_op.values() for x in values)
    p99 = _percentile(latencies, 0.99)
    over = sum(1 for x in latencies if x > p99) or 1
    by_op: dict[str, int] = {}
    for out in outputs:
        for op, count in out["by_op"].items():
            by_op[op] = by_op.get(op, 0) + count
    return LevelResult(
        target=target,
        connections=connections,
        requests=sum(out["requests"] for out in outputs),
        errors=sum(out["errors"] for out in outputs),
        elapsed_s=max(out["elapsed_s"] for out in outputs),
        p50_ms=_percentile(latencies, 0.50),
        p95_ms=_percentile(latencies, 0.95),
        p99_ms=p99,
        generator_cpu=max(out["cpu_s"] / out["elapsed_s"] for out in outputs),
        server_cpu=server_cpu,
        error_samples=[s for out in outputs for s in out["error_samples"]][:5],
        by_op=by_op,
        p50_by_op_ms={op: statistics.median(values) for op, values in sorted(per_op.items())},
        p99_by_op_ms={op: _percentile(sorted(v), 0.99) for op, v in sorted(per_op.items())},
        tail_share_by_op={
            op: sum(1 for x in values if x > p99) / over for op, values in sorted(per_op.items())
        },
    )


@contextlib.contextmanager
def app_server(data_dir: Path, profile: Path | None) -> Iterator[tuple[str, int]]:
    """``demobackend serve`` on a free port: (base URL, pid). With ``profile``, the same
    command under pyinstrument, which writes its text report there when the server stops
    (SIGINT: uvicorn shuts down cleanly, then pyinstrument writes)."""
    if profile is None:
        with running_server(data_dir) as server:
            yield server.base_url, server.process.pid
        return
    port = free_port()
    command = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(profile)]
    command += ["-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=ROOT, env=server_env(data_dir), stdout=subprocess.DEVNULL
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base_url}/healthz", process)
        yield base_url, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"no answer from {url}")
        time.sleep(0.1)


@contextlib.contextmanager
def hello_server() -> Iterator[tuple[int, int]]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.hello_app:app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=ROOT)
    try:
        _wait_for(f"http://127.0.0.1:{port}/", process)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)


def _sign_in(base_url: str, username: str) -> str:
    with httpx.Client(base_url=base_url, timeout=30) as auth:
        body = {"username": username, "password": PASSWORD}
        signup = auth.post("/auth/signup", json=body)
        if signup.status_code not in (201, 409):
            raise RuntimeError(f"signup: {signup.status_code} {signup.text[:200]}")
        answer = auth.post("/auth/token", json=body)
        answer.raise_for_status()
        return str(answer.json()["idToken"])


def _seed(base_url: str, token: str, username: str) -> None:
    content = f"seed file of {username}, a quarterly report\n".encode()
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for n in range(FILES_PER_USER):
            declared = {
                "name": f"{username}-report-{n:02}.txt",
                "contentType": "text/plain",
                "size": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
            }
            made = client.post("/graphql", json={"query": CREATE, "variables": {"input": declared}})
            payload = made.json()["data"]["createUpload"]
            upload = payload["upload"]
            put = httpx.request(
                upload["method"], upload["url"], headers=upload["headers"], content=content
            )
            put.raise_for_status()
            done = client.post(
                "/graphql", json={"query": COMPLETE, "variables": {"id": payload["file"]["id"]}}
            )
            if "errors" in done.json():
                raise RuntimeError(f"seed completeUpload: {done.text[:200]}")


def _wrk(port: int, connections: int, seconds: float) -> float | None:
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    command = [wrk, "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
    out = subprocess.run(
        [*command, f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    return float(found.group(1)) if found else None


def measure(
    levels: tuple[int, ...] = (1, 8, 32),
    seconds: float = 8.0,
    leak_requests: int = 4000,
    min_served: int = 10_000,
    profile: Path | None = None,
) -> LoadResult:
    results: list[LevelResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        with app_server(data_dir, profile) as (base_url, pid):
            port = int(base_url.rsplit(":", 1)[1])
            names = [f"loaduser{i}" for i in range(USERS)]
            tokens = [_sign_in(base_url, name) for name in names]
            for token, name in zip(tokens, names, strict=True):
                _seed(base_url, token, name)
            rss_start = _status_mib(pid, "VmRSS")
            for connections in levels:
                results.append(
                    run_level(
                        port,
                        pid,
                        target="app",
                        connections=connections,
                        seconds=seconds,
                        max_requests=1_000_000,
                        tokens=tokens,
                    )
                )
            served = sum(r.requests for r in results)
            # Two identical runs, sized so the server has served at least min_served in all.
            per_run = max(leak_requests, (min_served - served + 1) // 2)
            leak_runs = []
            rss_after = []
            for run in (1, 2):
                leak_runs.append(
                    run_level(
                        port,
                        pid,
                        target="app",
                        connections=8,
                        seconds=max(seconds * 4, 60),
                        max_requests=per_run,
                        tokens=tokens,
                        seed=run,
                    )
                )
                rss_after.append(_status_mib(pid, "VmRSS"))
            served += sum(r.requests for r in leak_runs)
            peak = _status_mib(pid, "VmHWM")
        with hello_server() as (hello_port, hello_pid):
            for connections in levels:
                results.append(
                    run_level(
                        hello_port,
                        hello_pid,
                        target="hello",
                        connections=connections,
                        seconds=seconds,
                        max_requests=1_000_000,
                        tokens=[],
                    )
                )
            wrk_connections = max(levels)
            wrk_rps = _wrk(hello_port, wrk_connections, seconds)
    return LoadResult(
        levels=results,
        rss_start_mib=rss_start,
        rss_run1_mib=rss_after[0],
        rss_run2_mib=rss_after[1],
        peak_rss_mib=peak,
        served=served,
        wrk_hello_rps=wrk_rps,
        wrk_connections=wrk_connections,
        leak_runs=leak_runs,
    )


def figures(result: LoadResult, command: str = COMMAND) -> list[Figure]:
    out: list[Figure] = []
    for app in (r for r in result.levels if r.target == "app"):
        hello = result.level("hello", app.connections)
        out.append(
            Figure(
                name=f"load c={app.connections}: throughput",
                what=(
                    f"mix on the real server; p50/p95/p99 {app.p50_ms:.1f}/{app.p95_ms:.1f}/"
                    f"{app.p99_ms:.1f} ms; server CPU {app.server_cpu:.0%}"
                ),
                command=command,
                value=app.throughput,
                unit="req/s",
                baseline=hello.throughput,
                baseline_what=f"Starlette hello, same uvicorn and generator, c={app.connections}",
                higher_is_better=True,
            )
        )
        if app.connections in P99_TARGETS_MS:
            out.append(
                Figure(
                    name=f"load c={app.connections}: p99",
                    what=f"every mix request (me, page, search, upload), p50 {app.p50_ms:.1f} ms",
                    command=command,
                    value=app.p99_ms,
                    unit="ms",
                    target=P99_TARGETS_MS[app.connections],
                )
            )
    every = [r for r in result.levels + result.leak_runs if r.target == "app"]
    out.append(
        Figure(
            name="load: errors",
            what=f"non-2xx or GraphQL errors over all {sum(r.requests for r in every)} requests",
            command=command,
            value=sum(r.errors for r in every),
            unit="",
            target=0,
        )
    )
    busiest = max((r for r in result.levels if r.target == "hello"), key=lambda r: r.throughput)
    out.append(
        Figure(
            name="load: generator CPU at the hello ceiling",
            what=f"busiest generator process, CPU s per wall s, c={busiest.connections}",
            command=command,
            value=busiest.generator_cpu,
            unit="",
            target=0.9,
        )
    )
    if result.wrk_hello_rps is not None:
        ours = result.level("hello", result.wrk_connections).throughput
        out.append(
            Figure(
                name="load: our generator vs wrk on hello",
                what=f"hello req/s, c={result.wrk_connections}: ours / wrk -t2",
                command=command,
                value=ours,
                unit="req/s",
                baseline=result.wrk_hello_rps,
                baseline_what="wrk",
            )
        )
    out.append(
        Figure(
            name="memory: server peak RSS under load",
            what=f"VmHWM after {result.served} requests (seeded: {USERS * FILES_PER_USER} files)",
            command=command,
            value=result.peak_rss_mib,
            unit="MiB",
            baseline=result.rss_start_mib,
            baseline_what="RSS after start-up and seeding",
        )
    )
    out.append(
        Figure(
            name="memory: RSS growth between two identical runs",
            what=(
                f"RSS after run 2 - after run 1 ({result.rss_run2_mib:.1f} - "
                f"{result.rss_run1_mib:.1f} MiB), {result.leak_runs[0].requests} requests each"
            ),
            command=command,
            value=result.rss_run2_mib - result.rss_run1_mib,
            unit="MiB",
            target=LEAK_TOLERANCE_MIB,
        )
    )
    return out


def report(result: LoadResult) -> str:
    lines = [
        f"{'target':6} {'conns':>5} {'requests':>8} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'errors':>6} {'server cpu':>10} {'gen cpu':>7}"
    ]
    for r in result.levels + result.leak_runs:
        lines.append(
            f"{r.target:6} {r.connections:>5} {r.requests:>8} {r.throughput:>8.0f} "
            f"{r.p50_ms:>7.1f} {r.p95_ms:>7.1f} {r.p99_ms:>7.1f} {r.errors:>6} "
            f"{r.server_cpu:>10.0%} {r.generator_cpu:>7.0%}"
        )
        if r.target == "app":
            ops = ", ".join(f"{op} {ms:.1f}" for op, ms in r.p50_by_op_ms.items())
            lines.append(f"    p50 ms by operation: {ops}")
            ops = ", ".join(f"{op} {ms:.1f}" for op, ms in r.p99_by_op_ms.items())
            lines.append(f"    p99 ms by operation: {ops}")
            shares = ", ".join(
                f"{op} {share:.0%}" for op, share in r.tail_share_by_op.items() if share
            )
            lines.append(f"    requests over the p99, by operation: {shares}")
        lines.extend(f"    error: {sample}" for sample in r.error_samples)
    if result.wrk_hello_rps is not None:
        lines.append(
            f"wrk -t2 -c{result.wrk_connections} on hello: {result.wrk_hello_rps:.0f} req/s"
        )
    lines.append(
        f"server RSS: {result.rss_start_mib:.1f} MiB after seeding; after leak run 1 "
        f"{result.rss_run1_mib:.1f}, run 2 {result.rss_run2_mib:.1f} "
        f"(+{result.rss_run2_mib - result.rss_run1_mib:.1f}); peak {result.peak_rss_mib:.1f} MiB "
        f"after {result.served} requests"
    )
    mix = statistics.mean(r.throughput for r in result.levels if r.target == "app")
    lines.append(f"(mean app throughput over levels: {mix:.0f} req/s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=8.0, help="per level and target")
    parser.add_argument("--leak-requests", type=int, default=4000)
    parser.add_argument("--quick", action="store_true", help="3 s per level, 1,500 per leak run")
    parser.add_argument(
        "--profile",
        type=Path,
        help="run the server under pyinstrument and write its text report to this file "
        "(slower: the figures of such a run are not comparable)",
    )
    args = parser.parse_args(argv)
    seconds, leak, served = args.seconds, args.leak_requests, 10_000
    if args.quick:
        seconds, leak, served = 3.0, 1500, 3000
    print(report(measure(tuple(args.levels), seconds, leak, served, args.profile)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
