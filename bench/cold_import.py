"""Cold start of the Lambda entry point vs. the frameworks it stands on.

Each sample is a fresh interpreter; the kinds alternate so machine noise hits all alike.
Prints medians and ratios to the frameworks-only import (target for the import: <= 1.15x).

- import: `import api.lambda_handler` (what the Lambda init phase runs);
- first build: import plus settings and the app built, i.e. what the first invocation
  adds on top (settings, adapters, schema), for the local and the AWS backend
  (boto3 clients created, no call made).

Without bytecode: the same imports with no .pyc for the app or its dependencies (as a
package built without compiling would load), the standard library keeping its own. A
fresh PYTHONPYCACHEPREFIX is filled by one import run, then everything under this
repository (the app and .venv's site-packages) is removed from it; samples then run with
PYTHONDONTWRITEBYTECODE=1, so every sample compiles the same modules and the repository's
own __pycache__ folders are never read, written nor deleted.

Budget: `python -X importtime -c "import api.lambda_handler"`, self time of every module
summed per component (our code, strawberry, graphql-core, starlette, mangum, other
third-party, standard library); median of `--budget-runs` runs.

Run: `make bench` or `.venv/bin/python -m bench.cold_import [--runs 15]`.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.figures import Figure

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ".venv/bin/python -m bench.cold_import"
TARGET = 1.15
# Import, settings and the first build on the AWS composition, against the frameworks alone.
AWS_BUILD = "import + first build (aws)"
AWS_BUILD_TARGET = 1.5
FRAMEWORKS = "frameworks only"
IMPORT = "import api.lambda_handler"
NO_PYC = " (no .pyc)"
OUR_PACKAGES = frozenset({"api", "resolvers", "domain", "adapters", "ops"})
NAMED = {
    "strawberry": "strawberry",
    "graphql": "graphql-core",
    "starlette": "starlette",
    "mangum": "mangum",
    "cross_web": "strawberry",  # its HTTP base, installed with it
    "dateutil": "strawberry",  # imported by strawberry's scalars only
}
# What the first invocation runs: settings, then the build (api/lambda_handler.py).
_BUILD = "import api.lambda_handler as h; h.get_handler()"
STATEMENTS = {
    FRAMEWORKS: "import strawberry, strawberry.asgi, starlette, mangum, boto3, jose",
    IMPORT: "import api.lambda_handler",
    "import + first build (local)": _BUILD,
    "import + first build (aws)": _BUILD,
}
# What the first build on Lambda sees: clients are created, nothing is called.
AWS_ENV = {
    "DEMOBACKEND_BACKEND": "aws",
    "DEMOBACKEND_BUCKET": "bench-bucket",
    "DEMOBACKEND_AUTH_MODE": "cognito",
    "DEMOBACKEND_COGNITO_USER_POOL_ID": "us-east-1_bench",
    "DEMOBACKEND_COGNITO_CLIENT_IDS": "bench-client",
    "DEMOBACKEND_CURSOR_SECRET": "0" * 64,
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}


@dataclass(frozen=True)
class ColdResult:
    runs: int
    medians_ms: dict[str, float]  # kind -> median wall time of a fresh interpreter
    budget_ms: dict[str, float]  # component -> self import time (median over runs)

    def ratio(self, kind: str, base: str = FRAMEWORKS) -> float:
        return self.medians_ms[kind] / self.medians_ms[base]


# A cold start ends when the handler is ready. The interpreter's teardown after that (a
# last full collection, modules cleared) is never on Lambda's request path, and the
# first build freezes what it made (api/lambda_handler.py), which would skip most of that
# collection and flatter the build rows: every sample ends before teardown, alike.
UNTIL_READY = "; import os; os._exit(0)"


def until_ready(statement: str) -> str:
    return statement + UNTIL_READY


def with_bytecode(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` in which the warm-up run writes the app's .pyc: with PYTHONDONTWRITEBYTECODE
    inherited (some shells and CI set it) every "with .pyc" sample compiled our ~150
    modules from source, ~1.2x of the frameworks instead of ~1.0x; the Lambda package
    ships bytecode (scripts/package_lambda.py)."""
    return {name: value for name, value in env.items() if name != "PYTHONDONTWRITEBYTECODE"}


def sample(statement: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    command = [sys.executable, "-c", until_ready(statement)]
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    return time.perf_counter() - started


@contextmanager
def without_app_bytecode(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """An environment in which the app and .venv load from source, stdlib from .pyc."""
    with tempfile.TemporaryDirectory() as prefix:
        warm = {**env, "PYTHONPYCACHEPREFIX": prefix}
        for statement in (STATEMENTS[FRAMEWORKS], STATEMENTS[IMPORT]):
            subprocess.run([sys.executable, "-c", statement], cwd=ROOT, env=warm, check=True)
        # The prefix mirrors absolute paths: drop this repository's part (app and .venv).
        shutil.rmtree(Path(prefix) / ROOT.relative_to(ROOT.anchor), ignore_errors=True)
        yield {**warm, "PYTHONDONTWRITEBYTECODE": "1"}


def component(module: str) -> str:
    top = module.split(".")[0]
    if top in OUR_PACKAGES:
        return "our code"
    if top in NAMED:
        return NAMED[top]
    if top in sys.stdlib_module_names or top.startswith("_") or top == "encodings":
        return "standard library"
    return "other third-party"


_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)")


def import_budget(env: dict[str, str], runs: int) -> dict[str, float]:
    per_run: list[dict[str, float]] = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", STATEMENTS[IMPORT]],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        totals: dict[str, float] = {}
        for found in _IMPORTTIME.finditer(done.stderr):
            name = component(found.group(2))
            totals[name] = totals.get(name, 0.0) + int(found.group(1)) / 1000
        per_run.append(totals)
    names = sorted({name for totals in per_run for name in totals})
    budget = {name: statistics.median(t.get(name, 0.0) for t in per_run) for name in names}
    return dict(sorted(budget.items(), key=lambda item: -item[1]))


def measure(runs: int = 15, budget_runs: int = 5, no_pyc_runs: int | None = None) -> ColdResult:
    no_pyc_runs = max(3, runs // 3) if no_pyc_runs is None else no_pyc_runs
    with tempfile.TemporaryDirectory() as data_dir:
        local_env = {**with_bytecode(os.environ), "DEMOBACKEND_DATA_DIR": data_dir}
        envs = {name: local_env for name in STATEMENTS}
        envs["import + first build (aws)"] = {**local_env, **AWS_ENV}
        for name, statement in STATEMENTS.items():  # warm bytecode and page caches for all
            sample(statement, envs[name])
        samples: dict[str, list[float]] = {name: [] for name in STATEMENTS}
        for _ in range(runs):
            for name, statement in STATEMENTS.items():
                samples[name].append(sample(statement, envs[name]))
        with without_app_bytecode(local_env) as source_env:
            cold = {FRAMEWORKS: STATEMENTS[FRAMEWORKS], IMPORT: STATEMENTS[IMPORT]}
            for name in cold:
                samples[name + NO_PYC] = []
            for _ in range(no_pyc_runs):
                for name, statement in cold.items():
                    samples[name + NO_PYC].append(sample(statement, source_env))
        budget = import_budget(local_env, budget_runs)
    medians = {name: statistics.median(times) * 1000 for name, times in samples.items()}
    return ColdResult(runs, medians, budget)


def figures(result: ColdResult, command: str = COMMAND) -> list[Figure]:
    ms = result.medians_ms
    out = [
        Figure(
            name="cold start: import api.lambda_handler",
            what="fresh interpreter, with .pyc, vs importing the frameworks it stands on",
            command=command,
            value=ms[IMPORT],
            unit="ms",
            baseline=ms[FRAMEWORKS],
            baseline_what="strawberry, starlette, mangum, boto3, jose",
            target=TARGET,
        ),
        Figure(
            name="cold start: import without .pyc",
            what="app and its dependencies compiled from source (stdlib keeps its .pyc)",
            command=command,
            value=ms[IMPORT + NO_PYC],
            unit="ms",
            baseline=ms[FRAMEWORKS + NO_PYC],
            baseline_what="the frameworks, also without .pyc",
        ),
        Figure(
            name="cold start: bytecode saves",
            what="import api.lambda_handler without .pyc / with .pyc",
            command=command,
            value=ms[IMPORT + NO_PYC],
            unit="ms",
            baseline=ms[IMPORT],
            baseline_what="with .pyc",
        ),
    ]
    for kind in ("import + first build (local)", "import + first build (aws)"):
        out.append(
            Figure(
                name=f"cold start: {kind}",
                what="import, settings and build_handler (no request, no network call)",
                command=command,
                value=ms[kind],
                unit="ms",
                baseline=ms[FRAMEWORKS],
                baseline_what="frameworks only",
                target=AWS_BUILD_TARGET if kind == AWS_BUILD else None,
            )
        )
    total = sum(result.budget_ms.values())
    for name, value in result.budget_ms.items():
        out.append(
            Figure(
                name=f"import budget: {name}",
                what=f"self import time in `-X importtime` ({value / total:.0%} of {total:.0f} ms)",
                command=command,
                value=value,
                unit="ms",
            )
        )
    return out


def report(result: ColdResult) -> str:
    lines = []
    for name, median in result.medians_ms.items():
        base = FRAMEWORKS + NO_PYC if name.endswith(NO_PYC) else FRAMEWORKS
        lines.append(f"{name:40s} median {median:7.1f} ms   ratio {result.ratio(name, base):.3f}x")
    lines.append(
        f"({result.runs} runs each, alternating; no-.pyc rows against the frameworks without "
        f".pyc; target for the import: <= {TARGET}x)"
    )
    total = sum(result.budget_ms.values())
    lines.append(f"import budget of api.lambda_handler (-X importtime self times, {total:.0f} ms):")
    lines.extend(
        f"  {name:20s} {value:7.1f} ms  {value / total:4.0%}"
        for name, value in result.budget_ms.items()
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--budget-runs", type=int, default=5)
    args = parser.parse_args(argv)
    print(report(measure(args.runs, args.budget_runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
