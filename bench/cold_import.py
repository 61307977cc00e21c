"""Cold start of the Lambda entry point vs. the frameworks it stands on.

Each sample is a fresh interpreter; the kinds alternate so machine noise hits all alike.
Prints medians and ratios to the frameworks-only import (target for the import: <= 1.15x).

- import: `import api.lambda_handler` (what the Lambda init phase runs);
- first build: import plus settings and the app built, i.e. what the first invocation
  adds on top (pydantic-settings, adapters, schema), for the local and the AWS backend
  (boto3 clients created, no call made).

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
_BUILD = (
    "import api.lambda_handler as h; from api.settings import load_settings; "
    "h.build_handler(load_settings())"
)
STATEMENTS = {
    "frameworks only": "import strawberry, strawberry.asgi, starlette, mangum, boto3, jose",
    "import api.lambda_handler": "import api.lambda_handler",
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


def sample(statement: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        local_env = {**os.environ, "DEMOBACKEND_DATA_DIR": data_dir}
        envs = {name: local_env for name in STATEMENTS}
        envs["import + first build (aws)"] = {**local_env, **AWS_ENV}
        for name, statement in STATEMENTS.items():  # warm bytecode and page caches for all
            sample(statement, envs[name])
        samples: dict[str, list[float]] = {name: [] for name in STATEMENTS}
        for _ in range(args.runs):
            for name, statement in STATEMENTS.items():
                samples[name].append(sample(statement, envs[name]))
    base = statistics.median(samples["frameworks only"])
    for name, times in samples.items():
        median = statistics.median(times)
        print(f"{name:30s} median {median * 1000:7.1f} ms   ratio {median / base:.3f}x")
    print(f"({args.runs} runs each, alternating; target for the import: <= 1.15x)")


if __name__ == "__main__":
    main()
