"""requirements/dev.lock and runtime.lock: made from pyproject.toml as it is now, every
requirement pinned at a version it allows, every pin hash-checked, and the installs
(`make`, the Lambda packaging) go through them. Offline: nothing here asks an index."""

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from scripts.dependency_lock import (
    DEV_LOCK,
    LOCAL_ONLY_DEPENDENCIES,
    PYPROJECT,
    RUNTIME_LOCK,
    LockError,
    Pin,
    drift,
    expected_inputs,
    normalize,
    pins,
)
from scripts.package_lambda import PackagingError, check_lock
from tests.infra.cfn import REPO_ROOT

LOCKS = [DEV_LOCK, RUNTIME_LOCK]
MAKEFILE = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")


def _pinned(lock: Path) -> dict[str, list[Pin]]:
    found: dict[str, list[Pin]] = {}
    for pin in pins(lock):
        found.setdefault(pin.name, []).append(pin)
    return found


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_the_lock_was_made_from_pyprojects_requirements(lock: Path) -> None:
    assert drift(lock) is None


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_every_requirement_is_pinned_at_a_version_it_allows(lock: Path) -> None:
    pinned = _pinned(lock)
    wrong = []
    for line in expected_inputs(lock):
        requirement = Requirement(line)
        versions = [Version(pin.version) for pin in pinned.get(normalize(requirement.name), [])]
        if not versions or not all(requirement.specifier.contains(v) for v in versions):
            wrong.append(f"{line}: locked {[str(v) for v in versions] or 'nothing'}")
    assert wrong == []


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_every_pin_is_exact_and_carries_hashes(lock: Path) -> None:
    locked = pins(lock)
    assert len(locked) > len(expected_inputs(lock))  # transitive dependencies are pinned too
    assert [pin.name for pin in locked if not pin.hashes] == []


def test_the_function_ships_the_versions_the_tests_run_against() -> None:
    dev = {(pin.name, pin.version) for pin in pins(DEV_LOCK)}
    runtime = pins(RUNTIME_LOCK)
    assert [(p.name, p.version) for p in runtime if (p.name, p.version) not in dev] == []
    # Resolved for the function's own Python and platform: nothing is left to a marker that
    # pip would evaluate on the build machine's interpreter instead.
    assert [pin.name for pin in runtime if pin.marker] == []
    assert not LOCAL_ONLY_DEPENDENCIES & {pin.name for pin in runtime}


def _changed_pyproject(tmp_path: Path, old: str, new: str) -> Path:
    text = PYPROJECT.read_text(encoding="utf-8")
    assert old in text
    changed = tmp_path / "pyproject.toml"
    changed.write_text(text.replace(old, new, 1), encoding="utf-8")
    return changed


def test_a_dependency_added_to_pyproject_is_drift(tmp_path: Path) -> None:
    """What the drift check sees when someone adds a dependency without `make lock`."""
    added = "never-a-real-dependency>=1.2"  # not one another branch may really add
    pyproject = _changed_pyproject(
        tmp_path, '"prometheus-client>=0.26",', f'"prometheus-client>=0.26",\n  "{added}",'
    )
    for lock in LOCKS:
        problem = drift(lock, pyproject)
        assert problem is not None
        assert f"new in pyproject.toml: {added}" in problem
        assert "make lock" in problem


def test_a_tightened_dev_requirement_is_drift_of_the_dev_lock_only(tmp_path: Path) -> None:
    pyproject = _changed_pyproject(tmp_path, '"httpx>=0.27",', '"httpx>=0.28",')
    problem = drift(DEV_LOCK, pyproject)
    assert problem is not None and "no longer in pyproject.toml: httpx>=0.27" in problem
    assert drift(RUNTIME_LOCK, pyproject) is None


def test_the_packaging_refuses_a_lock_pyproject_has_moved_past(tmp_path: Path) -> None:
    stale = tmp_path / RUNTIME_LOCK.name
    text = RUNTIME_LOCK.read_text(encoding="utf-8")
    stale.write_text(re.sub(r"(?m)^#   input: mangum.*\n", "", text), encoding="utf-8")
    with pytest.raises(PackagingError, match=r"new in pyproject.toml: mangum.*make lock"):
        check_lock(stale)
    with pytest.raises(PackagingError, match="missing"):
        check_lock(tmp_path / "absent" / RUNTIME_LOCK.name)
    check_lock(RUNTIME_LOCK)


def test_a_loose_requirement_in_a_lock_is_refused(tmp_path: Path) -> None:
    loose = tmp_path / DEV_LOCK.name
    loose.write_text("mangum>=0.19\n", encoding="utf-8")
    with pytest.raises(LockError, match="not an exact pin"):
        pins(loose)


def test_make_installs_the_venv_from_the_dev_lock_with_hashes() -> None:
    """The venv rule: rebuilt when a lock changes; hash-checked pins, then the project
    without dependency resolution."""
    rule = re.search(r"(?m)^\$\(STAMP\):(.*)\n((?:\t.*\n)+)", MAKEFILE)
    assert rule is not None
    prerequisites, recipe = rule[1].split(), rule[2]
    assert "pyproject.toml" in prerequisites and "$(LOCKS)" in prerequisites
    assert re.search(r"(?m)^LOCKS := requirements/dev.lock requirements/runtime.lock$", MAKEFILE)
    installs = [line for line in recipe.splitlines() if "pip install" in line]
    assert any("--require-hashes -r requirements/dev.lock" in line for line in installs)
    project = [line for line in installs if line.rstrip().endswith("-e .")]
    assert len(project) == 1 and "--no-deps" in project[0]
    assert not [line for line in installs if ".[dev]" in line]
