"""The app against the framework's own hello world, from outside, with wrk.

Two servers, one uvicorn worker each, on 127.0.0.1: the real ``demobackend serve``
(SQLite, local blobs, the dev identity provider, its JSON request log to a file) and the
framework's minimal app (bench/strawberry_hello.py: Strawberry's ASGI view on Starlette,
one ``hello`` field). wrk POSTs one GraphQL document per run at the same connection count;
the kinds alternate round by round (hello, me, page, search, hello, ...) so a busy moment
of the machine hits them alike, and each figure is the median over rounds of
app req/s / hello req/s from the same round.

- ``me``: ``query Me { me { username } }`` (token verification and the profile read);
- page: 20 of the viewer's files with their owners (the load mix's page);
- search: a two-term search (``report txt``, the last term a prefix) over the viewer's 21
  files, first 10.

Every answer is checked by wrk's Lua ``response`` hook: a status other than 200 or a body
carrying ``"errors"`` counts as bad (must be 0).

Run: `.venv/bin/python -m bench.framework [--connections 16] [--seconds 4] [--rounds 3]`.
Profile the server while wrk drives one kind: `--profile page` (py-spy, which is not a
dependency: `.venv/bin/pip install py-spy`) records 12 s of the server's stacks at 200 Hz
into a collapsed-stacks file and prints the frames most often on the stack.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.figures import Figure
from bench.load import _seed, _sign_in, _wait_for
from tests.support.server_process import ROOT, free_port, running_server, server_env

COMMAND = ".venv/bin/python -m bench.framework"
HELLO = "{ hello }"
QUERIES = {
    "me": "query Me { me { username } }",
    "page": (
        "query Page { myFiles(first: 20) { edges { node { id name size owner { username } } } } }"
    ),
    "search": 'query Find { search(query: "report txt", first: 10) '
    "{ edges { score node { __typename } } } }",
}
TARGETS = {"me": 1.0, "page": 0.5, "search": 0.5}

_LUA = """
wrk.method = "POST"
wrk.body = %(body)s
wrk.headers["Content-Type"] = "application/json"
%(auth)s
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then bad = bad + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("bad") end
  io.write(string.format("BAD %%d\\n", total))
end
"""


@dataclass
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    bad: int
    requests: int


@dataclass
class FrameworkResult:
    connections: int
    seconds: float
    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def ratios(self, kind: str) -> list[float]:
        return [
            app.rps / hello.rps
            for app, hello in zip(self.samples[kind], self.samples["hello"], strict=True)
        ]

    def ratio(self, kind: str) -> float:
        return statistics.median(self.ratios(kind))


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _wrk(url: str, script: Path, connections: int, seconds: float) -> Sample:
    wrk = shutil.which("wrk")
    assert wrk is not None
    command = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    command += ["-s", str(script), url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    bad = re.search(r"BAD (\d+)", out)
    p50 = re.search(r"\s50%\s+([0-9.]+)(us|ms|s)", out)
    p99 = re.search(r"\s99%\s+([0-9.]+)(us|ms|s)", out)
    if not (rps and total and bad and p50 and p99):
        raise RuntimeError(f"wrk output not understood:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    extra = int(errors.group(1)) if errors else 0
    if socket_errors:
        extra += sum(int(g) for g in socket_errors.groups())
    return Sample(
        rps=float(rps.group(1)),
        p50_ms=_ms(*p50.groups()),
        p99_ms=_ms(*p99.groups()),
        bad=int(bad.group(1)) + extra,
        requests=int(total.group(1)),
    )


@contextlib.contextmanager
def hello_server() -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.strawberry_hello:app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        _wait_for(f"{url}?query=%7Bhello%7D", process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def _script(directory: Path, name: str, query: str, token: str | None) -> Path:
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    body = _lua_string(json.dumps({"query": query}))
    path = directory / f"{name}.lua"
    path.write_text(_LUA % {"body": body, "auth": auth}, encoding="utf-8")
    return path


def measure(
    connections: int = 16, seconds: float = 4.0, rounds: int = 3, against: Path | None = None
) -> FrameworkResult:
    """``against``: another checkout (e.g. a ``git worktree`` of an older commit) whose
    server runs beside this one, its kinds ("me (against)", ...) in the same rounds."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (make bench installs it: apt-get install wrk)")
    result = FrameworkResult(connections, seconds, {"hello": []})
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        servers = {"": stack.enter_context(running_server(tmp / "data")).base_url}
        if against is not None:
            servers[AGAINST] = _other_server(stack, against.resolve(), tmp / "against")
        hello_url = stack.enter_context(hello_server())
        runs = {"hello": (hello_url, _script(tmp, "hello", HELLO, None))}
        for suffix, base_url in servers.items():
            token = _sign_in(base_url, "wrkuser")
            _seed(base_url, token, "wrkuser")
            for kind, query in QUERIES.items():
                name = kind + suffix
                runs[name] = (f"{base_url}/graphql", _script(tmp, f"run{len(runs)}", query, token))
                result.samples[name] = []
        # Each kind beside its counterpart from the other checkout, in every round.
        order = ["hello", *(kind + suffix for kind in QUERIES for suffix in servers)]
        runs = {name: runs[name] for name in order}
        # A short warm-up of each, not counted: first requests fill caches and pools.
        for url, script in runs.values():
            _wrk(url, script, connections, 1)
        # Every other round runs in reverse: on a busy machine whichever server runs later in
        # a round measured up to 1.5x better, and alternating cancels that order bias.
        for round_number in range(rounds):
            names = list(runs) if round_number % 2 == 0 else list(reversed(runs))
            for name in names:
                url, script = runs[name]
                result.samples[name].append(_wrk(url, script, connections, seconds))
    return result


AGAINST = " (against)"
# py-spy names a frame "function (path:line)", paths relative to their sys.path entry.
_OURS = re.compile(r"\((api|domain|resolvers|adapters|ops)/")


def _other_server(stack: contextlib.ExitStack, root: Path, data_dir: Path) -> str:
    """``demobackend serve`` from another checkout, on this venv's interpreter."""
    port = free_port()
    data_dir.mkdir(parents=True)
    log = stack.enter_context((data_dir / "server.log").open("w"))
    env = {**server_env(data_dir / "data"), "PYTHONPATH": str(root)}
    command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    stack.callback(process.wait, 15)
    stack.callback(process.terminate)
    url = f"http://127.0.0.1:{port}"
    _wait_for(f"{url}/healthz", process)
    return url


def figures(result: FrameworkResult, command: str = COMMAND) -> list[Figure]:
    out: list[Figure] = []
    hello = statistics.median(s.rps for s in result.samples["hello"])
    for kind in QUERIES:
        samples = result.samples[kind]
        p99 = statistics.median(s.p99_ms for s in samples)
        out.append(
            Figure(
                name=f"vs bare Strawberry: {kind}",
                what=(
                    f"req/s, wrk c={result.connections}, one uvicorn worker each, SQLite; "
                    f"median of {len(samples)} round ratios; p99 {p99:.1f} ms"
                ),
                command=command,
                # The median of the round ratios, expressed as a rate beside hello's median.
                value=result.ratio(kind) * hello,
                unit="req/s",
                baseline=hello,
                baseline_what="Strawberry + Starlette `{ hello }`, same uvicorn, same run",
                target=TARGETS[kind],
                higher_is_better=True,
            )
        )
    every = [s for samples in result.samples.values() for s in samples]
    out.append(
        Figure(
            name="vs bare Strawberry: bad answers",
            what=(
                "non-200, GraphQL errors or socket errors over "
                f"{sum(s.requests for s in every)} requests"
            ),
            command=command,
            value=sum(s.bad for s in every),
            unit="",
            target=0,
        )
    )
    return out


def report(result: FrameworkResult) -> str:
    lines = [
        f"wrk -t1 -c{result.connections}, {result.seconds:g} s per run, kinds alternating",
        f"{'kind':18} {'req/s per round':>30} {'p50 ms':>7} {'p99 ms':>7} {'bad':>4}  ratio",
    ]
    for kind, samples in result.samples.items():
        rates = " ".join(f"{s.rps:8.0f}" for s in samples)
        ratio = (
            ""
            if kind == "hello"
            else f"{result.ratio(kind):.3f}x " + " ".join(f"{r:.3f}" for r in result.ratios(kind))
        )
        p50 = statistics.median(s.p50_ms for s in samples)
        p99 = statistics.median(s.p99_ms for s in samples)
        bad = sum(s.bad for s in samples)
        lines.append(f"{kind:18} {rates:>30} {p50:7.1f} {p99:7.1f} {bad:4}  {ratio}")
    for kind in QUERIES:
        if kind + AGAINST in result.samples:
            pairs = zip(result.samples[kind], result.samples[kind + AGAINST], strict=True)
            change = statistics.median(ours.rps / theirs.rps for ours, theirs in pairs)
            lines.append(f"{kind}: this tree / the other, same rounds: {change:.3f}x")
    lines.append(
        "(ratio: median over rounds of app req/s / hello req/s; targets me >= 1.0x, "
        "page >= 0.5x, search >= 0.5x)"
    )
    return "\n".join(lines)


def profile(kind: str, output: Path, connections: int = 16, seconds: float = 12.0) -> str:
    """Stacks of the app server under wrk (py-spy, collapsed format into ``output``); the
    frames of this repository most often on the main thread's stack, as shares."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "data") as server:
        token = _sign_in(server.base_url, "wrkuser")
        _seed(server.base_url, token, "wrkuser")
        script = _script(Path(tmp), kind, QUERIES[kind], token)
        url = f"{server.base_url}/graphql"
        _wrk(url, script, connections, 2)  # warm up
        command = [spy, "record", "--pid", str(server.process.pid), "--rate", "200"]
        command += ["--duration", str(round(seconds)), "--format", "raw", "--nonblocking"]
        command += ["--threads"]
        command += ["--output", str(output)]
        recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sample = _wrk(url, script, connections, seconds + 2)
        recorder.wait(timeout=seconds + 60)
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in output.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if "MainThread" not in frames[0]:
            continue
        total += int(count)
        for frame in {f for f in frames[1:] if _OURS.search(f)}:
            counts[frame] += int(count)
    lines = [f"{kind}: {sample.rps:.0f} req/s under py-spy; {total} main-thread samples"]
    lines += [f"{n / max(total, 1):6.1%}  {frame}" for frame, n in counts.most_common(30)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--against", type=Path, help="another checkout whose server runs beside this one"
    )
    parser.add_argument("--profile", choices=list(QUERIES), help="py-spy the server instead")
    parser.add_argument("--profile-output", type=Path, default=Path("/tmp/framework-profile.txt"))
    args = parser.parse_args(argv)
    if args.profile:
        print(profile(args.profile, args.profile_output, args.connections))
        return 0
    print(report(measure(args.connections, args.seconds, args.rounds, args.against)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
