"""The benchmark suite: every bench in one run, one table of figures in bench/RESULTS.md.

    .venv/bin/python -m bench.suite [--quick] [--only NAME ...] [--search-size 100000]

Each figure is a value and, where one makes sense, the baseline measured beside it in
the same run; the table gives their ratio and the target it is held to. The machine
(CPU, cores, RAM, load average before and after), the versions that matter and the git
commit head the file. Absolute times depend on the machine and on whatever else runs on
it; the ratios are what to compare between runs. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import os
import platform
import re
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench.figures import Figure, fmt

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
PY = ".venv/bin/python"
VERSIONED = (
    "strawberry-graphql",
    "graphql-core",
    "starlette",
    "uvicorn",
    "mangum",
    "boto3",
    "moto",
    "aws-lambda-powertools",
)
SUBPROCESS_TIMEOUT_SECONDS = 600
# A bench child above this is stopped: the machine is shared, and no bench needs it.
MAX_CHILD_RSS_MIB = 4096


@dataclass(frozen=True)
class Options:
    quick: bool
    search_size: int


@dataclass
class Outcome:
    figures: list[Figure] = field(default_factory=list)
    output: str = ""
    status: str = "ok"
    seconds: float = 0.0


Bench = Callable[[Options], Outcome]


def _captured(work: Callable[[], object]) -> tuple[object, str]:
    """Run work with its prints captured (and echoed afterwards by the runner)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        value = work()
    return value, buffer.getvalue()


def cold_start(options: Options) -> Outcome:
    from bench import cold_import

    runs, budget_runs = (3, 2) if options.quick else (9, 3)
    result = cold_import.measure(runs, budget_runs)
    command = f"{PY} -m bench.cold_import --runs {runs} --budget-runs {budget_runs}"
    return Outcome(cold_import.figures(result, command), cold_import.report(result))


def cold_request(options: Options) -> Outcome:
    from bench import cold_request as bench

    runs = 2 if options.quick else 5
    result = bench.measure(runs)
    command = f"{PY} -m bench.cold_request --runs {runs}"
    return Outcome(bench.figures(result, command), bench.report(result))


def request_overhead(options: Options) -> Outcome:
    from bench import request_overhead as bench

    runs, requests = (5, 20) if options.quick else (15, 40)
    result = bench.measure(runs, requests)
    command = f"{PY} -m bench.request_overhead --runs {runs} --requests {requests}"
    return Outcome(bench.figures(result, command), bench.report(result))


def observability(options: Options) -> Outcome:
    from bench import observability as bench

    runs, requests, cold = (7, 20, 3) if options.quick else (21, 50, 9)
    result = bench.measure(runs, requests, cold)
    command = f"{PY} -m bench.observability --runs {runs} --requests {requests} --cold-runs {cold}"
    return Outcome(bench.figures(result, command), bench.report(result))


def lambda_warm(options: Options) -> Outcome:
    from bench import lambda_warm as bench

    runs, invocations = (5, 20) if options.quick else (15, 40)
    result = bench.measure(runs, invocations)
    command = f"{PY} -m bench.lambda_warm --runs {runs} --invocations {invocations}"
    return Outcome(bench.figures(result, command), bench.report(result))


def file_listing(options: Options) -> Outcome:
    import asyncio

    from bench import file_listing as bench

    runs = 7 if options.quick else 21
    rows, output = _captured(lambda: asyncio.run(bench.run(200, 150, 3, runs, 5.0)))
    command = f"{PY} -m bench.file_listing --runs {runs}"
    assert isinstance(rows, list)
    return Outcome(bench.figures(rows, command), output)


def dynamodb_get_many(options: Options) -> Outcome:
    import asyncio

    from bench import dynamodb_get_many as bench

    runs = 3 if options.quick else 7
    rows, output = _captured(lambda: asyncio.run(bench.run(runs, 10.0)))
    command = f"{PY} -m bench.dynamodb_get_many --runs {runs}"
    assert isinstance(rows, list)
    return Outcome(bench.figures(rows, command), output)


def framework(options: Options) -> Outcome:
    from bench import framework as bench

    seconds, rounds = (2.0, 2) if options.quick else (4.0, 4)
    result = bench.measure(16, seconds, rounds)
    command = f"{PY} -m bench.framework --connections 16 --seconds {seconds:g} --rounds {rounds}"
    return Outcome(bench.figures(result, command), bench.report(result))


def load(options: Options) -> Outcome:
    from bench import load as bench

    if options.quick:
        result = bench.measure((1, 8, 32), 3.0, 1500, 3000)
        command = f"{PY} -m bench.load --quick"
    else:
        result = bench.measure((1, 8, 32), 8.0, 4000, 10_000)
        command = f"{PY} -m bench.load"
    return Outcome(bench.figures(result, command), bench.report(result))


def brownout(options: Options) -> Outcome:
    from bench import brownout as bench

    if options.quick:
        result = bench.measure(4.0, overhead_runs=7)
        command = f"{PY} -m bench.brownout --quick"
    else:
        result = bench.measure(10.0)
        command = f"{PY} -m bench.brownout"
    return Outcome(bench.figures(result, command), bench.report(result))


def realtime(options: Options) -> Outcome:
    from bench import realtime as bench

    result, output = _captured(lambda: bench.measure(options.quick))
    assert isinstance(result, bench.RealtimeResult)
    command = f"{PY} -m bench.realtime" + (" --quick" if options.quick else "")
    return Outcome(bench.figures(result, command), output)


def realtime_aws(options: Options) -> Outcome:
    from bench import realtime_aws as bench

    rows = bench.run()
    return Outcome(bench.figures(rows), bench.report(rows))


def _child(command: list[str]) -> tuple[int, str, float]:
    """Run a bench in its own interpreter: exit code, output, and its peak RSS (MiB).

    The peak is the child's own VmHWM, polled from /proc while it runs: wait4's
    ru_maxrss would not do, Linux carries the parent's high-water mark into the child
    across fork and exec."""
    child = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    stream = child.stdout
    assert stream is not None
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.append(stream.read()), daemon=True)
    reader.start()
    deadline, peak = time.monotonic() + SUBPROCESS_TIMEOUT_SECONDS, 0.0
    while child.poll() is None:
        if time.monotonic() > deadline:
            child.kill()
            chunks.append("\n(timed out)")
            break
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{child.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        if peak > MAX_CHILD_RSS_MIB:
            child.kill()
            chunks.append(f"\n(stopped: peak RSS over {MAX_CHILD_RSS_MIB} MiB)")
            break
        time.sleep(0.2)
    code = child.wait()
    reader.join(timeout=30)
    stream.close()
    return code, "".join(chunks), peak


_SIZE = re.compile(r"^(\d+) files\b")
_ROW = re.compile(r"^\s{2}(\S.*?)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s*$")


def search(options: Options) -> Outcome:
    size = options.search_size
    runs, naive_runs = (5, 1) if options.quick else (20, 2)
    # The growth check is 100k against 10k (bench/README.md "Search"): a tenth of the size is
    # always run too.
    sizes = sorted({min(1000, size), max(1000, size // 10), size})
    args = ["--sizes", *map(str, sizes), "--runs", str(runs), "--naive-runs", str(naive_runs)]
    command = [sys.executable, "-m", "bench.search", *args]
    shown = f"{PY} -m bench.search {' '.join(args)}"
    code, output, peak = _child(command)
    outcome = Outcome(output=output)
    if code != 0:
        outcome.status = f"failed: exit {code}"
        return outcome
    rows: dict[int, dict[str, tuple[float, float, int, float, int]]] = {}
    current = None
    for line in output.splitlines():
        if found := _SIZE.match(line):
            current = int(found.group(1))
            rows[current] = {}
        elif current is not None and (row := _ROW.match(line)):
            label, p50, p95, items, naive_p50, naive_items = row.groups()
            rows[current][label] = (
                float(p50),
                float(p95),
                int(items),
                float(naive_p50),
                int(naive_items),
            )
    if size not in rows or not rows[size]:
        outcome.status = "output not understood (bench/search.py changed its table?)"
        return outcome
    # Growth is judged against the next smaller size (10k for 100k).
    previous = max((known for known in rows if known < size), default=size)
    largest, smallest = rows[size], rows[previous]
    for label, (p50, p95, items, naive_p50, naive_items) in largest.items():
        outcome.figures.append(
            Figure(
                name=f"search {size:,} files: {label}",
                what=f"indexed p50 (p95 {p95:g} ms, {items} items read vs {naive_items} naive)",
                command=shown,
                value=p50,
                unit="ms",
                baseline=naive_p50,
                baseline_what="scan and match every file",
            )
        )
    outcome.figures.append(
        Figure(
            name=f"search {size:,} files: worst p95",
            what="slowest query kind's p95, indexed",
            command=shown,
            value=max(p95 for _, p95, *_ in largest.values()),
            unit="ms",
            target=50,
        )
    )
    if previous != size:
        growth = max(
            largest[label][2] / smallest[label][2] for label in largest if label in smallest
        )
        outcome.figures.append(
            Figure(
                name=f"search: items read at {size:,} / at {previous:,}",
                what="worst query kind: the index reads a bounded number of items",
                command=shown,
                value=growth,
                unit="x",
                target=2,
            )
        )
    outcome.figures.append(
        Figure(
            name=f"memory: search bench peak RSS at {size:,} files",
            what="the process seeding and querying SQLite through the search engine",
            command=shown,
            value=peak,
            unit="MiB",
        )
    )
    return outcome


def backup(options: Options) -> Outcome:
    if importlib.util.find_spec("bench.backup") is None:
        return Outcome(status="skipped: not present")
    # Its full sizes (10k files on moto, 100k items) are its own run, not the suite's.
    argv = ["--quick"]
    statement = f"import sys; from bench.backup import main; sys.exit(main({argv!r}))"
    code, output, peak = _child([sys.executable, "-c", statement])
    shown = f"{PY} -m bench.backup {' '.join(argv)}".strip()
    outcome = Outcome(output=output)
    if code != 0:
        outcome.status = f"failed: exit {code}"
    outcome.figures.append(
        Figure(
            name="backup bench: exit status",
            what=f"bench/backup.py ran to the end (its own figures below; peak RSS {peak:.0f} MiB)",
            command=shown,
            value=code if code >= 0 else 128 - code,  # killed by signal n: 128 + n, as a shell
            unit="",
            target=0,
        )
    )
    return outcome


_DR_PER_FILE = re.compile(r"per file: ([\d.]+) ms wall, ([\d.]+) ms CPU; load average ([\d.]+)")
_DR_WORKERS = re.compile(r"bytes copied by (\w+) worker")


def dr(options: Options) -> Outcome:
    """Restore + index of a generated backup (bench/dr.py), extrapolated to 1M files; the
    1M run itself is `make bench-dr` (longer than the whole suite)."""
    if importlib.util.find_spec("bench.dr") is None:
        return Outcome(status="skipped: not present")
    args = ["--files", "2000" if options.quick else "20000"]
    code, output, _ = _child([sys.executable, "-m", "bench.dr", *args])
    outcome = Outcome(output=output)
    found = _DR_PER_FILE.search(output)
    if code != 0 or found is None:
        outcome.status = f"failed: exit {code}"
        return outcome
    wall_ms, cpu_ms, load = (float(v) for v in found.groups())
    workers = _DR_WORKERS.search(output)
    outcome.figures.append(
        Figure(
            name="DR: restore + search index, 1M files (extrapolated)",
            what=f"{args[1]} files restored and indexed (SQLite + folder) x 1M / {args[1]}",
            command=f"{PY} -m bench.dr {' '.join(args)}",
            value=wall_ms * 1_000_000 / 1000 / 60,
            unit="min",
            target=30,
            note=f"{cpu_ms:.2f} ms CPU per file, load {load:.1f}, "
            f"{workers.group(1) if workers else '?'} byte workers; `make bench-dr` runs 1M",
        )
    )
    return outcome


_MULTIPART_FIGURES = re.compile(r"^\{.*\}$", re.MULTILINE)


def multipart(options: Options) -> Outcome:
    """bench/multipart.py in a child: 1 GiB (quick: 256 MiB) against 256 MiB (quick: 64)."""
    if importlib.util.find_spec("bench.multipart") is None:
        return Outcome(status="skipped: not present")
    from bench import multipart as bench_multipart

    sizes = [64, 256] if options.quick else [256, 1024]
    args = ["--sizes-mib", *map(str, sizes), "--json"]
    code, output, _ = _child([sys.executable, "-m", "bench.multipart", *args])
    outcome = Outcome(output=output)
    found = _MULTIPART_FIGURES.findall(output)
    if code != 0 or not found:
        outcome.status = f"failed: exit {code}"
        return outcome
    outcome.figures = bench_multipart.figures_from_json(found[-1])
    return outcome


BENCHES: dict[str, Bench] = {
    "cold_import": cold_start,
    "cold_request": cold_request,
    "request_overhead": request_overhead,
    "observability": observability,
    "lambda_warm": lambda_warm,
    "file_listing": file_listing,
    "dynamodb_get_many": dynamodb_get_many,
    "search": search,
    "backup": backup,
    "dr": dr,
    "multipart": multipart,
    "framework": framework,
    "load": load,
    "brownout": brownout,
    "realtime": realtime,
    "realtime_aws": realtime_aws,
}


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _ram_gib() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "unknown"


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def machine(load_before: str) -> list[tuple[str, str]]:
    versions = []
    for name in VERSIONED:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{name} {metadata.version(name)}")
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain") else ""
    return [
        ("CPU", _cpu_model()),
        ("cores", str(os.cpu_count())),
        ("RAM", _ram_gib()),
        ("load average 1/5/15 min, before / after", f"{load_before} | {_load()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("OS", platform.platform()),
        ("versions", ", ".join(versions)),
        ("git commit", (_git("rev-parse", "--short", "HEAD") or "unknown") + dirty),
    ]


def _met(figure: Figure) -> str:
    if figure.met is None:
        return ""
    return "yes" if figure.met else "**no**"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(
    outcomes: dict[str, Outcome], options: Options, started: datetime, load_before: str
) -> str:
    mode = " --quick" if options.quick else ""
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `make bench` (`{PY} -m bench.suite{mode}`) on "
        f"{started:%Y-%m-%d %H:%M} UTC; rerun to refresh, do not edit. How to read it: "
        "bench/README.md. Ratios are measured side by side in this run; absolute times "
        "depend on the machine and on what else ran on it (see the load average).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    lines += [f"| {key} | {_cell(value)} |" for key, value in machine(load_before)]
    every = [figure for outcome in outcomes.values() for figure in outcome.figures]
    held = [figure for figure in every if figure.met is not None]
    lines += [
        "",
        "## Figures",
        "",
        f"{len(every)} figures, {len(held)} with a target, {sum(1 for f in held if f.met)} met.",
        "",
        "| figure | what | command | value | baseline (same run) | ratio | target | met? |",
        "|---|---|---|---:|---|---:|---|---|",
    ]
    for figure in every:
        baseline = ""
        if figure.baseline is not None:
            baseline = f"{fmt(figure.baseline, figure.unit)} ({figure.baseline_what})"
        ratio = ""
        if figure.ratio is not None:
            ratio = f"{figure.ratio:.3f}x" if figure.ratio >= 0.01 else f"{figure.ratio:.2g}x"
        cells = [
            figure.name,
            figure.what,
            f"`{figure.command}`",
            fmt(figure.value, figure.unit),
            baseline,
            ratio,
            figure.target_text,
            _met(figure),
        ]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    lines += ["", "## Runs", "", "| bench | status | seconds |", "|---|---|---:|"]
    for name, outcome in outcomes.items():
        lines.append(f"| {name} | {_cell(outcome.status)} | {outcome.seconds:.0f} |")
    lines += ["", "## Output of each bench", ""]
    for name, outcome in outcomes.items():
        if outcome.output.strip():
            lines += [f"### {name}", "", "```text", outcome.output.rstrip(), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def run(names: list[str], options: Options, output: Path) -> int:
    started, load_before = datetime.now(UTC), _load()
    outcomes: dict[str, Outcome] = {}
    for name in names:
        print(f"== {name}", flush=True)
        began = time.perf_counter()
        try:
            outcome = BENCHES[name](options)
        except Exception:  # one broken bench must not lose the others' figures
            outcome = Outcome(status="failed", output=traceback.format_exc())
        outcome.seconds = time.perf_counter() - began
        outcomes[name] = outcome
        print(outcome.output.rstrip() or outcome.status, flush=True)
        print(f"-- {name}: {outcome.status}, {outcome.seconds:.0f} s", flush=True)
    output.write_text(render(outcomes, options, started, load_before), encoding="utf-8")
    missed = [f.name for o in outcomes.values() for f in o.figures if f.met is False]
    failed = [n for n, o in outcomes.items() if o.status not in ("ok", "skipped: not present")]
    print(f"wrote {output}; targets missed: {missed or 'none'}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs: a smoke test")
    parser.add_argument("--only", nargs="+", choices=list(BENCHES), metavar="NAME")
    parser.add_argument(
        "--search-size",
        type=int,
        default=None,
        help="files in the search bench (10000; 1000 with --quick)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    size = args.search_size or (1000 if args.quick else 10_000)
    names = args.only or list(BENCHES)
    return run(names, Options(args.quick, size), args.output.resolve())


if __name__ == "__main__":
    sys.exit(main())
