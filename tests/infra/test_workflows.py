""".github/workflows and infra/samconfig.toml: actionlint passes, and the pipeline keeps
its promises (OIDC only, build once, staging and its smoke test before an approved
production, pinned actions), each check shown to fail on a broken copy."""

from __future__ import annotations

import copy
import json
import re
import shlex
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.infra.cfn import INFRA_DIR, REPO_ROOT, load_template
from tests.infra.workflows import (
    WORKFLOWS,
    Workflow,
    actionlint_findings,
    load,
    step_runs,
    steps,
    triggers,
)

CI = WORKFLOWS / "ci.yml"
DEPLOY = WORKFLOWS / "deploy.yml"
SAMCONFIG = INFRA_DIR / "samconfig.toml"
# A tag can be moved to other code; a commit cannot. The release it is stays beside it as a
# comment (`@<sha> # v4.4.0`) for people and for update tools.
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
PINNED_LINE = re.compile(r"uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
DEPLOY_JOBS = ("staging", "production")


def every_job(workflows: dict[str, Workflow]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, workflow in workflows.items():
        for job_name, job in workflow.get("jobs", {}).items():
            yield f"{name}:{job_name}", job


# ---------------------------------------------------------------------------- checks ----


def check_actions_pinned(workflows: dict[str, Workflow]) -> list[str]:
    problems = []
    for where, job in every_job(workflows):
        for step in steps(job):
            uses = step.get("uses")
            if uses and not str(uses).startswith("./") and not PINNED.match(str(uses)):
                problems.append(f"{where}: {uses} is not pinned to a commit SHA")
    return problems


def check_no_stored_keys(workflows: dict[str, Workflow]) -> list[str]:
    problems = []
    text = json.dumps(workflows)
    for needle in ("aws-access-key-id", "aws-secret-access-key", "AWS_SECRET_ACCESS_KEY"):
        if needle in text:
            problems.append(f"workflows mention {needle}: credentials must come from OIDC")
    for where, job in every_job(workflows):
        for step in steps(job):
            if "configure-aws-credentials" in str(step.get("uses", "")):
                if not step.get("with", {}).get("role-to-assume"):
                    problems.append(f"{where}: configure-aws-credentials without role-to-assume")
                if job.get("permissions", {}).get("id-token") != "write":
                    problems.append(f"{where}: OIDC needs permissions id-token: write")
    return problems


def check_least_permissions(workflows: dict[str, Workflow]) -> list[str]:
    problems = []
    for name, workflow in workflows.items():
        if workflow.get("permissions") != {"contents": "read"}:
            problems.append(f"{name}: top-level permissions must be contents: read")
    for where, job in every_job(workflows):
        if job.get("permissions", {}).get("id-token") == "write" and not any(
            "configure-aws-credentials" in str(step.get("uses", "")) for step in steps(job)
        ):
            problems.append(f"{where}: id-token: write without assuming an AWS role")
    return problems


def check_pipeline_order(workflows: dict[str, Workflow]) -> list[str]:
    problems = []
    deploy = workflows.get("deploy.yml", {})
    if "push" not in triggers(deploy) or triggers(deploy)["push"].get("branches") != ["main"]:
        problems.append("deploy.yml: must run on pushes to main")
    jobs = deploy.get("jobs", {})
    build, staging, production = (jobs.get(name, {}) for name in ("build", *DEPLOY_JOBS))
    if "sam build" not in step_runs(build) or "test" not in _needs(build):
        problems.append("deploy.yml: build must run sam build after the tests")
    uploaded = [s for s in steps(build) if "upload-artifact" in str(s.get("uses", ""))]
    artifact = uploaded[0].get("with", {}).get("name") if uploaded else None
    for name, job in (("staging", staging), ("production", production)):
        if "sam build" in step_runs(job):
            problems.append(f"deploy.yml: {name} rebuilds; it must deploy the built artifact")
        downloads = [s for s in steps(job) if "download-artifact" in str(s.get("uses", ""))]
        if not artifact or [d.get("with", {}).get("name") for d in downloads] != [artifact]:
            problems.append(f"deploy.yml: {name} must download the build's artifact")
        if "build.outputs.digest" not in json.dumps(job):
            problems.append(f"deploy.yml: {name} must check the artifact's digest")
        if job.get("environment", {}).get("name") != name:
            problems.append(f"deploy.yml: {name} must run in the {name} environment")
        if f"--config-env {name}" not in step_runs(job):
            problems.append(f"deploy.yml: {name} must sam deploy --config-env {name}")
    if "build" not in _needs(staging):
        problems.append("deploy.yml: staging must follow build")
    if "staging" not in _needs(production):
        problems.append("deploy.yml: production must follow staging (and its smoke test)")
    runs = [str(step.get("run", "")) for step in steps(staging)]
    deployed = [i for i, text in enumerate(runs) if "sam deploy" in text]
    smoked = [i for i, text in enumerate(runs) if "scripts.smoke_test" in text]
    if not deployed or not smoked or smoked[0] < deployed[0]:
        problems.append("deploy.yml: staging must smoke-test after deploying")
    return problems


def check_ci_runs_the_tests(workflows: dict[str, Workflow]) -> list[str]:
    ci = workflows.get("ci.yml", {})
    problems = []
    if not {"pull_request", "push"} <= set(triggers(ci)):
        problems.append("ci.yml: must run on pull requests and pushes")
    if "workflow_call" not in triggers(ci):
        problems.append("ci.yml: deploy.yml reuses it (workflow_call)")
    commands = "\n".join(step_runs(job) for _, job in every_job({"ci.yml": ci}))
    if ".ci/run" not in commands or "make infra-tools" not in commands:
        problems.append("ci.yml: must install the infra tools and run .ci/run")
    return problems


WORKFLOW_CHECKS: dict[str, Callable[[dict[str, Workflow]], list[str]]] = {
    check.__name__.removeprefix("check_"): check
    for check in (
        check_actions_pinned,
        check_no_stored_keys,
        check_least_permissions,
        check_pipeline_order,
        check_ci_runs_the_tests,
    )
}


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def workflows() -> dict[str, Workflow]:
    return {path.name: load(path) for path in sorted(WORKFLOWS.glob("*.yml"))}


# ----------------------------------------------------------------------------- tests ----


@pytest.mark.parametrize("check", WORKFLOW_CHECKS.values(), ids=WORKFLOW_CHECKS.keys())
def test_workflow_property(check: Callable[[dict[str, Workflow]], list[str]]) -> None:
    assert check(workflows()) == []


def _job(w: dict[str, Workflow], workflow: str, job: str) -> dict[str, Any]:
    found: dict[str, Any] = w[workflow]["jobs"][job]
    return found


def _unpinned(w: dict[str, Workflow]) -> None:
    steps(_job(w, "deploy.yml", "build"))[0]["uses"] = "actions/checkout@main"


def _major_version_only(w: dict[str, Workflow]) -> None:
    steps(_job(w, "deploy.yml", "production"))[0]["uses"] = "actions/checkout@v4"


def _stored_keys(w: dict[str, Workflow]) -> None:
    for step in steps(_job(w, "deploy.yml", "staging")):
        if "configure-aws-credentials" in str(step.get("uses", "")):
            step["with"] = {"aws-access-key-id": "${{ secrets.KEY }}", "aws-region": "x"}


def _no_oidc_permission(w: dict[str, Workflow]) -> None:
    del _job(w, "deploy.yml", "production")["permissions"]


def _write_all(w: dict[str, Workflow]) -> None:
    w["deploy.yml"]["permissions"] = "write-all"


def _rebuild_for_production(w: dict[str, Workflow]) -> None:
    steps(_job(w, "deploy.yml", "production")).append({"run": "sam build"})


def _production_without_approval(w: dict[str, Workflow]) -> None:
    del _job(w, "deploy.yml", "production")["environment"]


def _production_skips_staging(w: dict[str, Workflow]) -> None:
    _job(w, "deploy.yml", "production")["needs"] = ["build"]


def _no_smoke_test(w: dict[str, Workflow]) -> None:
    job = _job(w, "deploy.yml", "staging")
    job["steps"] = [s for s in steps(job) if "smoke_test" not in str(s.get("run", ""))]


def _no_digest_check(w: dict[str, Workflow]) -> None:
    job = _job(w, "deploy.yml", "staging")
    job["steps"] = [s for s in steps(job) if "digest" not in json.dumps(s)]


def _ci_without_pull_requests(w: dict[str, Workflow]) -> None:
    triggers(w["ci.yml"]).pop("pull_request")


WORKFLOW_REGRESSIONS = [
    (_unpinned, "actions_pinned"),
    (_major_version_only, "actions_pinned"),
    (_stored_keys, "no_stored_keys"),
    (_no_oidc_permission, "no_stored_keys"),
    (_write_all, "least_permissions"),
    (_rebuild_for_production, "pipeline_order"),
    (_production_without_approval, "pipeline_order"),
    (_production_skips_staging, "pipeline_order"),
    (_no_smoke_test, "pipeline_order"),
    (_no_digest_check, "pipeline_order"),
    (_ci_without_pull_requests, "ci_runs_the_tests"),
]


@pytest.mark.parametrize(
    ("mutate", "check"),
    WORKFLOW_REGRESSIONS,
    ids=[f"{check}-{mutate.__name__.lstrip('_')}" for mutate, check in WORKFLOW_REGRESSIONS],
)
def test_a_workflow_regression_is_caught(
    mutate: Callable[[dict[str, Workflow]], None], check: str
) -> None:
    broken = copy.deepcopy(workflows())
    mutate(broken)
    assert WORKFLOW_CHECKS[check](broken) != []


def test_every_workflow_check_has_a_regression() -> None:
    assert {check for _, check in WORKFLOW_REGRESSIONS} == set(WORKFLOW_CHECKS)


def test_actionlint_passes_every_workflow() -> None:
    paths = sorted(WORKFLOWS.glob("*.yml"))
    assert [p.name for p in paths] == ["ci.yml", "deploy.yml", "drill.yml"]
    assert actionlint_findings(*paths) == []


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    text = DEPLOY.read_text(encoding="utf-8")
    broken = tmp_path / "deploy.yml"
    broken.write_text(
        text.replace(
            "${{ needs.build.outputs.digest }}", "${{ needs.biuld.outputs.digest }}"
        ).replace("runs-on: ubuntu-24.04", "runs-on: ubuntu-24.04\n    timeout-minutes: soon", 1),
        encoding="utf-8",
    )
    messages = " ".join(f["message"] for f in actionlint_findings(broken))
    assert "biuld" in messages
    assert "timeout-minutes" in messages


# ---------------------------------------------------------------------------- samconfig ----


def overrides(environment: str) -> dict[str, str]:
    config = tomllib.loads(SAMCONFIG.read_text(encoding="utf-8"))
    text = config[environment]["deploy"]["parameters"]["parameter_overrides"]
    return dict(pair.split("=", 1) for pair in shlex.split(text))


def stack_name(environment: str) -> str:
    config = tomllib.loads(SAMCONFIG.read_text(encoding="utf-8"))
    name: str = config[environment]["global"]["parameters"]["stack_name"]
    return name


@pytest.mark.parametrize("environment", ["default", "staging", "production"])
def test_samconfig_overrides_are_valid_template_parameters(environment: str) -> None:
    parameters = load_template()["Parameters"]
    for name, value in overrides(environment).items():
        assert name in parameters, f"{environment}: {name} is not a template parameter"
        spec = parameters[name]
        if "AllowedValues" in spec:
            assert value in [str(v) for v in spec["AllowedValues"]], (environment, name, value)
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), (environment, name, value)
        if "MinValue" in spec:
            assert spec["MinValue"] <= float(value) <= spec["MaxValue"], (environment, name)
    assert overrides(environment)["EnvironmentName"] == environment.replace("default", "dev")


def test_production_shifts_traffic_gradually_and_hides_introspection() -> None:
    production = overrides("production")
    assert production["DeploymentType"] != "AllAtOnce"
    assert production["Introspection"] == "false"


def test_the_smoke_tests_target_the_stacks_samconfig_deploys() -> None:
    jobs = load(DEPLOY)["jobs"]
    for environment in DEPLOY_JOBS:
        assert f"--stack {stack_name(environment)}" in step_runs(jobs[environment])


def test_ci_installs_the_infra_tools() -> None:
    """The checks above fail under CI without their tools: `make infra-tools` installs
    them, and .ci/run (what CI runs) must call it."""
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^infra-tools:", makefile, re.MULTILINE)
    assert "infra-tools" in (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_production_deploys_with_the_pager_from_its_environment() -> None:
    """samconfig cannot hold the account's topic ARN; the production job must pass it, and
    staging, which may go without, must not depend on it."""
    jobs = load(DEPLOY)["jobs"]
    deploy_steps = [s for s in steps(jobs["production"]) if "sam deploy" in str(s.get("run"))]
    assert len(deploy_steps) == 1
    step = deploy_steps[0]
    assert step.get("env", {}).get("ALARM_TOPIC_ARN") == "${{ vars.ALARM_TOPIC_ARN }}"
    assert "scripts.sam_overrides production" in step["run"]
    assert '"AlarmTopicArn=${ALARM_TOPIC_ARN}"' in step["run"]
    assert '--parameter-overrides "${overrides}"' in step["run"]
    assert "ALARM_TOPIC_ARN" not in json.dumps(jobs["staging"])
    assert "AlarmTopicArn" not in overrides("production")  # account-specific: not in git


@pytest.mark.parametrize("environment", DEPLOY_JOBS)
def test_each_stage_deploys_with_the_hooks_test_user(environment: str) -> None:
    jobs = load(DEPLOY)["jobs"]
    [step] = [s for s in steps(jobs[environment]) if "sam deploy" in str(s.get("run"))]
    assert step.get("env", {}).get("SMOKE_SECRET_ARN") == "${{ vars.SMOKE_SECRET_ARN }}"
    assert f"scripts.sam_overrides {environment}" in step["run"]
    assert '"SmokeUserSecretArn=${SMOKE_SECRET_ARN}"' in step["run"]
    assert '--parameter-overrides "${overrides}"' in step["run"]


def test_staging_rehearses_productions_canary() -> None:
    assert overrides("staging")["DeploymentType"] == overrides("production")["DeploymentType"]
    assert overrides("production")["DeploymentType"] != "AllAtOnce"


def test_every_pinned_action_names_its_release() -> None:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "uses:" in line and "uses: ./" not in line:
                assert PINNED_LINE.search(line.strip()), f"{path.name}: {line.strip()}"


def test_production_keeps_its_data_in_a_second_region() -> None:
    production = overrides("production")
    assert production["FilesReplicaBucket"]
    assert production["BackupCopyRegion"]
    assert "FilesReplicaBucket" not in overrides("staging")
