"""Cold start of the Lambda entry point vs. the frameworks it stands on.

Each sample is a fresh interpreter; the kinds alternate so machine noise hits all alike.
Prints medians and ratios to the frameworks-only import (target for the import: <= 1.15x).

- import: `import api.lambda_handler` (what the Lambda init phase runs);
- first build: import plus settings and the app built for the local backend, i.e. what
  the first invocation adds on top (pydantic-settings, adapters, schema).

Run: `make bench` or `.venv/bin/python -m bench.cold_import [--runs 15]`.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATEMENTS = {
    "frameworks only": "import strawberry, strawberry.asgi, starlette, mangum, boto3, jose",
    "import api.lambda_handler": "import api.lambda_handler",
    "import + first build (local)": (
        "import api.lambda_handler as h; from api.settings import load_settings; "
        "h.build_handler(load_settings())"
    ),
}


def sample(statement: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "DEMOBACKEND_DATA_DIR": data_dir}
        for statement in STATEMENTS.values():  # warm bytecode and page caches for all
            sample(statement, env)
        samples: dict[str, list[float]] = {name: [] for name in STATEMENTS}
        for _ in range(args.runs):
            for name, statement in STATEMENTS.items():
                samples[name].append(sample(statement, env))
    base = statistics.median(samples["frameworks only"])
    for name, times in samples.items():
        median = statistics.median(times)
        print(f"{name:30s} median {median * 1000:7.1f} ms   ratio {median / base:.3f}x")
    print(f"({args.runs} runs each, alternating; target for the import: <= 1.15x)")


if __name__ == "__main__":
    main()
