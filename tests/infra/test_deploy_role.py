"""infra/deploy-role.yaml: GitHub's OIDC token of this repository's environment, and only
that, assumes a role that may only run change sets of its stack; CloudFormation applies
them as an execution role scoped to the stack's names. Each property shown to fail on a
broken copy; cfn-lint accepts the template; deploy.yml uses both roles."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.infra.cfn import INFRA_DIR, Template, as_list, dump_template, load_template, props
from tests.infra.checks_common import resource_text
from tests.infra.test_workflows import DEPLOY, DEPLOY_JOBS
from tests.infra.tools import cfn_lint, run
from tests.infra.workflows import load, steps

DEPLOY_ROLE = INFRA_DIR / "deploy-role.yaml"
SUBJECT = {"Fn::Sub": "repo:${GitHubRepository}:environment:${EnvironmentName}"}
# Statements allowed a "*" resource, each for the reason written beside it in the template.
STAR_STATEMENTS = {"CreateCallsWithoutAResource"}
STAR_ACTIONS = {
    "cognito-idp:CreateUserPool",
    "lambda:CreateEventSourceMapping",
    "apigateway:POST",
    "apigateway:GET",
    "apigateway:PATCH",
    "apigateway:PUT",
    "apigateway:DELETE",
    "backup:CreateBackupVault",
    "dynamodb:DescribeLimits",
}
# Wildcards that stay inside the stack's names, or are conditioned on the environment tag.
SCOPED_PREFIXES = ("${StackName}", "CodeDeployHook_${StackName}", "${ArtifactBucketName}")
# Other wildcards, each ending a name nobody chooses: SAM's managed stack's id, AWS's
# predefined deployment configurations, generated user pool and backup plan ids, event
# source mapping UUIDs.
GENERATED_NAME_ENDINGS = (
    "stack/aws-sam-cli-managed-default/*",
    "deploymentconfig:CodeDeployDefault.*",
    "backup-plan:*",
    "userpool/*",
    "event-source-mapping:*",
)


def _roles(template: Template) -> dict[str, dict[str, Any]]:
    return {
        name: props(res)
        for name, res in template["Resources"].items()
        if res["Type"] == "AWS::IAM::Role"
    }


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]


def check_trust(template: Template) -> list[str]:
    problems = []
    [trust] = _roles(template)["DeployRole"]["AssumeRolePolicyDocument"]["Statement"]
    condition = trust.get("Condition", {})
    if set(condition) != {"StringEquals"}:
        problems.append("DeployRole: the token must match exactly (StringEquals only)")
    equals = condition.get("StringEquals", {})
    if equals.get("token.actions.githubusercontent.com:sub") != SUBJECT:
        problems.append("DeployRole: the subject must be this repository's environment")
    if equals.get("token.actions.githubusercontent.com:aud") != "sts.amazonaws.com":
        problems.append("DeployRole: the audience must be sts.amazonaws.com")
    if trust.get("Action") != "sts:AssumeRoleWithWebIdentity" or "Service" in trust["Principal"]:
        problems.append("DeployRole: only GitHub's OIDC provider may assume it")
    return problems


def check_least_privilege(template: Template) -> list[str]:
    problems = []
    for name, role in _roles(template).items():
        for statement in _statements(role):
            where = f"{name}/{statement.get('Sid')}"
            actions = [str(a) for a in as_list(statement.get("Action"))]
            if any("*" in action for action in actions):
                problems.append(f"{where}: an action wildcard")
            for resource in as_list(statement.get("Resource")):
                if resource == "*":
                    if statement.get("Sid") not in STAR_STATEMENTS or set(actions) - STAR_ACTIONS:
                        problems.append(f"{where}: Resource * for {actions}")
                    continue
                text = resource_text(resource) or ""
                star = text.split(":")[-1] if "*" in text else ""
                tagged = "aws:ResourceTag/Environment" in str(statement.get("Condition"))
                scoped = any(p in text for p in SCOPED_PREFIXES)
                if star and not tagged and not scoped and not text.endswith(GENERATED_NAME_ENDINGS):
                    problems.append(f"{where}: {text} reaches beyond the stack")
    deploy = _statements(_roles(template)["DeployRole"])
    passes = [s for s in deploy if "iam:PassRole" in as_list(s.get("Action"))]
    if [s.get("Resource") for s in passes] != [{"Fn::GetAtt": ["ExecutionRole", "Arn"]}]:
        problems.append("DeployRole: may pass the execution role and nothing else")
    for statement in deploy:
        actions = as_list(statement.get("Action"))
        if any(str(a).startswith(("iam:Create", "lambda:", "dynamodb:")) for a in actions):
            problems.append(f"DeployRole: {actions} belongs to the execution role")
    return problems


CHECKS: dict[str, Callable[[Template], list[str]]] = {
    "trust": check_trust,
    "least_privilege": check_least_privilege,
}


@pytest.mark.parametrize("check", CHECKS.values(), ids=CHECKS.keys())
def test_deploy_role_property(check: Callable[[Template], list[str]]) -> None:
    assert check(load_template(DEPLOY_ROLE)) == []


def _trust(t: Template) -> dict[str, Any]:
    found: dict[str, Any] = props(t["Resources"]["DeployRole"])["AssumeRolePolicyDocument"][
        "Statement"
    ][0]
    return found


def _deploy(t: Template, sid: str) -> dict[str, Any]:
    return next(s for s in _statements(props(t["Resources"]["DeployRole"])) if s["Sid"] == sid)


def _any_branch(t: Template) -> None:
    equals = _trust(t)["Condition"].pop("StringEquals")
    equals["token.actions.githubusercontent.com:sub"] = "repo:o/r:*"
    _trust(t)["Condition"]["StringLike"] = equals


def _any_environment(t: Template) -> None:
    _trust(t)["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] = {
        "Fn::Sub": "repo:${GitHubRepository}:ref:refs/heads/main"
    }


def _pass_any_role(t: Template) -> None:
    _deploy(t, "HandTheStackToCloudFormation")["Resource"] = "*"


def _iam_star(t: Template) -> None:
    _deploy(t, "ChangeSetsOfThisStack")["Action"] = ["cloudformation:*"]


def _any_stack(t: Template) -> None:
    _deploy(t, "ChangeSetsOfThisStack")["Resource"] = {
        "Fn::Sub": "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/*"
    }


def _deployer_creates_functions(t: Template) -> None:
    _deploy(t, "UploadTheArtifact")["Action"].append("lambda:CreateFunction")


REGRESSIONS = [
    (_any_branch, "trust"),
    (_any_environment, "trust"),
    (_pass_any_role, "least_privilege"),
    (_iam_star, "least_privilege"),
    (_any_stack, "least_privilege"),
    (_deployer_creates_functions, "least_privilege"),
]


@pytest.mark.parametrize(("mutate", "check"), REGRESSIONS, ids=[m.__name__ for m, _ in REGRESSIONS])
def test_a_deploy_role_regression_is_caught(mutate: Callable[[Template], None], check: str) -> None:
    broken = copy.deepcopy(load_template(DEPLOY_ROLE))
    mutate(broken)
    assert CHECKS[check](broken) != []


def test_every_deploy_role_check_has_a_regression() -> None:
    assert {check for _, check in REGRESSIONS} == set(CHECKS)


def test_cfn_lint_accepts_the_deploy_role_template(tmp_path: Path) -> None:
    result = run([cfn_lint(), "--include-checks", "I", "--", DEPLOY_ROLE])
    assert result.returncode == 0, result.stdout + result.stderr
    broken = load_template(DEPLOY_ROLE)
    props(broken["Resources"]["DeployRole"])["MaxSessionDuration"] = "forever"
    result = run([cfn_lint(), "--", dump_template(broken, tmp_path / "role.yaml")])
    assert result.returncode != 0


@pytest.mark.parametrize("environment", DEPLOY_JOBS)
def test_each_stage_deploys_through_the_execution_role(environment: str) -> None:
    job = load(DEPLOY)["jobs"][environment]
    [step] = [s for s in steps(job) if "sam deploy" in str(s.get("run"))]
    assert step["env"]["CFN_EXECUTION_ROLE_ARN"] == "${{ vars.CFN_EXECUTION_ROLE_ARN }}"
    assert '--role-arn "${CFN_EXECUTION_ROLE_ARN}"' in step["run"]
    [credentials] = [s for s in steps(job) if "configure-aws-credentials" in str(s.get("uses"))]
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
