"""checkov's policies pass on the SAM template, on what SAM's transform makes of it
(generated roles, versions, the deployment group) and on the deploy-role template. Every
finding is fixed or skipped in that resource's Metadata with a comment saying why; a skip
without a reason fails here too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.infra.cfn import INFRA_DIR, TEMPLATE_PATH, dump_template, load_template, props, walk
from tests.infra.test_lint import PARAMETER_SETS, _transform
from tests.infra.tools import checkov, checkov_env, run

DEPLOY_ROLE = INFRA_DIR / "deploy-role.yaml"


def _checkov(path: Path) -> dict[str, Any]:
    result = run(
        [
            checkov(),
            "--file",
            path,
            "--framework",
            "cloudformation",
            "--skip-download",
            "--quiet",
            "--compact",
            "--output",
            "json",
        ],
        env=checkov_env(),
        timeout=600,
    )
    assert result.stdout.strip(), result.stderr[-2000:]
    report = json.loads(result.stdout)
    [only] = report if isinstance(report, list) else [report]
    found: dict[str, Any] = only
    return found


def _failures(report: dict[str, Any]) -> list[str]:
    return [
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for check in report["results"]["failed_checks"]
    ]


@pytest.mark.slow
@pytest.mark.parametrize("path", [TEMPLATE_PATH, DEPLOY_ROLE], ids=["template", "deploy-role"])
def test_checkov_passes(path: Path) -> None:
    report = _checkov(path)
    assert _failures(report) == []
    assert report["summary"]["passed"] > 10  # it did read the resources


@pytest.mark.slow
@pytest.mark.parametrize("parameters", PARAMETER_SETS.values(), ids=PARAMETER_SETS.keys())
def test_checkov_passes_on_the_transformed_template(
    tmp_path: Path, parameters: dict[str, Any]
) -> None:
    transformed = _transform(TEMPLATE_PATH, tmp_path / "transformed.json", parameters)
    report = _checkov(transformed)
    assert _failures(report) == []
    resources = json.loads(transformed.read_text(encoding="utf-8"))["Resources"]
    assert "CodeDeployServiceRole" in resources  # a role only the transform makes, checked


@pytest.mark.slow
def test_checkov_fails_a_weakened_template(tmp_path: Path) -> None:
    template = load_template()
    del props(template["Resources"]["FilesBucket"])["PublicAccessBlockConfiguration"]
    report = _checkov(dump_template(template, tmp_path / "template.yaml"))
    assert any("FilesBucket" in failure for failure in _failures(report))


@pytest.mark.parametrize("path", [TEMPLATE_PATH, DEPLOY_ROLE], ids=["template", "deploy-role"])
def test_every_skip_says_why(path: Path) -> None:
    skips = [
        skip
        for node in walk(load_template(path).get("Resources", {}))
        if isinstance(node, dict) and isinstance(node.get("checkov"), dict)
        for skip in node["checkov"].get("skip", [])
    ]
    assert skips
    for skip in skips:
        assert len(str(skip.get("comment", "")).split()) >= 8, skip
