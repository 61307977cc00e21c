"""The dependency lock files: what they are made from and how to read them (stdlib only).

``requirements/dev.lock`` pins every distribution `make` installs into ``.venv`` (the
runtime dependencies, the ``dev`` extra and the build backend), for any platform and
Python 3.11+. ``requirements/runtime.lock`` pins what the Lambda artifact ships (the
runtime dependencies minus the local server's) for the function's Python and platforms,
at the same versions as dev.lock, so the tests run against the wheels that are deployed.
Every pin carries the sha256 of every file the index has for that version; pip installs
them with ``--require-hashes``, so a rebuild (a rollback included) gets the same bytes.

Each lock's header records the requirements it was resolved from, one ``#   input:``
line each. When pyproject.toml's requirements change, the recorded ones no longer match:
tests/infra/test_dependency_lock.py fails, and so does the Lambda packaging, until
`make lock` (scripts/lock_dependencies.py) resolves again.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = REPO_ROOT / "pyproject.toml"
LOCK_DIR = REPO_ROOT / "requirements"
DEV_LOCK = LOCK_DIR / "dev.lock"
RUNTIME_LOCK = LOCK_DIR / "runtime.lock"

# Runtime dependencies only the local server needs: the function never ships them.
LOCAL_ONLY_DEPENDENCIES = frozenset({"uvicorn", "websockets"})

INPUT_PREFIX = "#   input: "
RELOCK_HINT = "run `make lock` and commit requirements/"

_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_PIN = re.compile(
    r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$"
)
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


class LockError(Exception):
    """A lock file cannot be read, or was made from other requirements."""


@dataclass(frozen=True)
class Pin:
    name: str  # normalized (PEP 503)
    version: str
    marker: str | None
    hashes: tuple[str, ...]


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = _REQUIREMENT_NAME.match(requirement)
    if match is None:
        raise LockError(f"cannot read the requirement {requirement!r}")
    return normalize(match.group(1))


def _pyproject(pyproject: Path) -> dict[str, Any]:
    return tomllib.loads(pyproject.read_text(encoding="utf-8"))


def runtime_requirements(pyproject: Path = PYPROJECT) -> list[str]:
    """The ``[project] dependencies`` the function needs, as written in pyproject.toml."""
    project = _pyproject(pyproject)["project"]
    return [
        requirement.strip()
        for requirement in project["dependencies"]
        if requirement_name(requirement) not in LOCAL_ONLY_DEPENDENCIES
    ]


def dev_requirements(pyproject: Path = PYPROJECT) -> list[str]:
    """What `make` installs: every runtime dependency, the ``dev`` extra, and the build
    backend (the editable install runs without build isolation, from the lock)."""
    data = _pyproject(pyproject)
    project, build_system = data["project"], data["build-system"]
    requirements = [
        *project["dependencies"],
        *project.get("optional-dependencies", {}).get("dev", []),
        *build_system["requires"],
    ]
    return [requirement.strip() for requirement in requirements]


def expected_inputs(lock: Path, pyproject: Path = PYPROJECT) -> list[str]:
    if lock.name == DEV_LOCK.name:
        return dev_requirements(pyproject)
    if lock.name == RUNTIME_LOCK.name:
        return runtime_requirements(pyproject)
    raise LockError(f"{lock.name} is not one of the project's lock files")


def recorded_inputs(lock: Path) -> list[str]:
    """The requirements a lock file says it was resolved from."""
    try:
        text = lock.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LockError(f"{_shown(lock)} is missing: {RELOCK_HINT}") from None
    return [
        line.removeprefix(INPUT_PREFIX).strip()
        for line in text.splitlines()
        if line.startswith(INPUT_PREFIX)
    ]


def drift(lock: Path, pyproject: Path = PYPROJECT) -> str | None:
    """None when ``lock`` was made from pyproject.toml's requirements as they are now;
    otherwise one line saying what changed and what to run."""
    recorded = recorded_inputs(lock)
    expected = expected_inputs(lock, pyproject)
    if sorted(recorded) == sorted(expected):
        return None
    added = sorted(set(expected) - set(recorded))
    removed = sorted(set(recorded) - set(expected))
    changes = [f"new in pyproject.toml: {', '.join(added)}"] if added else []
    changes += [f"no longer in pyproject.toml: {', '.join(removed)}"] if removed else []
    what = "; ".join(changes) or "a requirement listed twice"
    return f"{_shown(lock)} is out of date ({what}): {RELOCK_HINT}"


def pins(lock: Path) -> list[Pin]:
    """Every ``name==version`` of a lock file with its marker and hashes."""
    found: list[Pin] = []
    current: tuple[str, str, str | None] | None = None
    hashes: list[str] = []
    for line in lock.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not line[0].isspace():
            if current is not None:
                found.append(Pin(*current, tuple(hashes)))
            match = _PIN.match(stripped)
            if match is None:
                raise LockError(f"{_shown(lock)}: not an exact pin: {stripped!r}")
            current, hashes = (normalize(match[1]), match[3], match[4]), []
        hashes += _HASH.findall(stripped)
    if current is not None:
        found.append(Pin(*current, tuple(hashes)))
    return found


def _shown(path: Path) -> str:
    try:
        return path.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)
