"""Cold import of the Lambda entry point vs. the frameworks it stands on.

Each sample is a fresh interpreter; the two kinds alternate so that machine noise hits
both alike. Prints medians and the ratio (target <= 1.15x). Run: `make bench` or
`.venv/bin/python -m bench.cold_import [--runs 15]`.
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = "import strawberry, strawberry.asgi, starlette, mangum, boto3, jose"
ENTRY_POINT = "import api.lambda_handler"


def sample(statement: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], cwd=ROOT, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    sample(FRAMEWORKS)  # warm the bytecode cache and the OS page cache for both
    sample(ENTRY_POINT)
    frameworks, entry = [], []
    for _ in range(args.runs):
        frameworks.append(sample(FRAMEWORKS))
        entry.append(sample(ENTRY_POINT))
    base, ours = statistics.median(frameworks), statistics.median(entry)
    print(f"frameworks only      median {base * 1000:7.1f} ms  ({args.runs} runs)")
    print(f"api.lambda_handler   median {ours * 1000:7.1f} ms  ({args.runs} runs)")
    print(f"ratio                {ours / base:.3f}x  (target <= 1.15x)")


if __name__ == "__main__":
    main()
