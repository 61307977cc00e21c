"""The restore drill in AWS (infra/template.yaml) and in CI (.github/workflows/drill.yml).

The template runs the drill in a function of its own (the API's code, with minutes instead
of 30 s, room in /tmp and read-only access), on an EventBridge schedule whose Input is the
very marker api/lambda_handler.py routes to the drill, and alarms when a drill fails.
Each check is shown to fail on a broken copy.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from api.lambda_handler import is_drill_event
from api.settings import ENV_PREFIX, Settings
from tests.infra.cfn import INFRA_DIR, Template, as_list, load_template, parameter, props
from tests.infra.cfn import resources as all_resources
from tests.infra.checks_access import iam_statements
from tests.infra.checks_common import ALARM_TOPIC, API_GATEWAY_TIMEOUT_SECONDS, resource_text
from tests.infra.workflows import WORKFLOWS, actionlint_findings, load, step_runs, steps, triggers

API = "ApiFunction"
DRILL = "DrillFunction"
DRILL_ROLE = "DrillFunctionRole"
DRILL_WORKFLOW = WORKFLOWS / "drill.yml"
LAMBDA_MAX_TIMEOUT = 900
LAMBDA_TMP_MB = (512, 10240)
# What the drill's role may do: write its log lines, read every item and every object.
READ_ONLY_ACTIONS = frozenset(
    {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "dynamodb:Scan",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "s3:GetObject",
        "s3:ListBucket",
    }
)
# Settings the drill function must share with the API function, value for value.
SHARED_SETTINGS = (
    "BACKEND",
    "AWS_REGION",
    "TABLE_NAME",
    "BUCKET",
    "AUTH_MODE",
    "COGNITO_USER_POOL_ID",
    "COGNITO_CLIENT_IDS",
    "CURSOR_SECRET",
    "METRICS_NAMESPACE",
)


def _resource(template: Template, name: str) -> dict[str, Any]:
    found: dict[str, Any] = all_resources(template).get(name, {})
    return found


def _env(template: Template, name: str) -> dict[str, Any]:
    variables: dict[str, Any] = (
        props(_resource(template, name)).get("Environment", {}).get("Variables", {})
    )
    return variables


# ---------------------------------------------------------------------------- checks ----


def check_drill_function(template: Template) -> list[str]:
    drill = _resource(template, DRILL)
    if drill.get("Type") != "AWS::Serverless::Function":
        return [f"no function {DRILL}"]
    p, api = props(drill), props(_resource(template, API))
    problems: list[str] = []
    for key in ("Handler", "CodeUri", "Runtime", "Architectures"):
        if p.get(key) != api.get(key):
            problems.append(f"{DRILL}: {key} {p.get(key)!r} != {API}'s {api.get(key)!r}")
    build_method = _resource(template, API).get("Metadata", {}).get("BuildMethod")
    if drill.get("Metadata", {}).get("BuildMethod") != build_method:
        problems.append(f"{DRILL}: must be built like {API} (Metadata BuildMethod)")
    timeout = p.get("Timeout")
    if not isinstance(timeout, int) or not API_GATEWAY_TIMEOUT_SECONDS < timeout <= 900:
        problems.append(f"{DRILL}: Timeout {timeout!r} must be minutes (at most 900 s)")
    storage = parameter(template, p.get("EphemeralStorage", {}).get("Size"))
    low, high = LAMBDA_TMP_MB
    if storage is None or not (
        low <= int(storage.get("MinValue", 0)) <= int(storage.get("Default", 0))
        and int(storage.get("MaxValue", high + 1)) <= high
        and int(storage["Default"]) > low
    ):
        problems.append(f"{DRILL}: EphemeralStorage must be a parameter within {LAMBDA_TMP_MB} MB")
    if p.get("EventInvokeConfig", {}).get("MaximumRetryAttempts") != 0:
        problems.append(f"{DRILL}: a failed drill must not be retried (MaximumRetryAttempts 0)")
    if p.get("ReservedConcurrentExecutions") != 1:
        problems.append(f"{DRILL}: one drill at a time (ReservedConcurrentExecutions 1)")
    if p.get("Events"):
        problems.append(f"{DRILL}: no API or bucket events; only the schedule invokes it")
    env, api_env = _env(template, DRILL), _env(template, API)
    fields = {spec.name for spec in dataclasses.fields(Settings)}
    for name in env:
        if name.removeprefix(ENV_PREFIX).lower() not in fields or not name.startswith(ENV_PREFIX):
            problems.append(f"{DRILL}: environment {name} is not a setting")
    for setting in SHARED_SETTINGS:
        name = f"{ENV_PREFIX}{setting}"
        if name not in env or env[name] != api_env.get(name):
            problems.append(f"{DRILL}: {name} must be {API}'s")
    return problems


def check_drill_role_is_read_only(template: Template) -> list[str]:
    p = props(_resource(template, DRILL))
    problems: list[str] = []
    if p.get("Role") != {"Fn::GetAtt": [DRILL_ROLE, "Arn"]}:
        problems.append(f"{DRILL}: must run as {DRILL_ROLE}")
    if props(_resource(template, DRILL_ROLE)).get("ManagedPolicyArns"):
        problems.append(f"{DRILL_ROLE}: no managed policies")
    granted: set[tuple[str, str]] = set()
    for where, statement in iam_statements(template):
        if not where.startswith(f"{DRILL_ROLE}/"):
            continue
        for action in as_list(statement.get("Action", [])):
            if action not in READ_ONLY_ACTIONS:
                problems.append(f"{where}: {action} is not a read (the drill restores to /tmp)")
            for resource in as_list(statement.get("Resource", [])):
                granted.add((str(action), resource_text(resource) or "?"))
    for needed in (("dynamodb:Scan", "GetAtt:Table.Arn"), ("s3:GetObject", "files/*")):
        if not any(a == needed[0] and r.endswith(needed[1]) for a, r in granted):
            problems.append(f"{DRILL_ROLE}: the drill needs {needed[0]} on {needed[1]}")
    return problems


def check_drill_schedule(template: Template) -> list[str]:
    problems: list[str] = []
    rules = {
        name: rule
        for name, rule in all_resources(template, "AWS::Events::Rule").items()
        for target in props(rule).get("Targets", [])
        if target.get("Arn") == {"Fn::GetAtt": [DRILL, "Arn"]}
    }
    if len(rules) != 1:
        return [f"exactly one EventBridge rule must target {DRILL}, found {sorted(rules)}"]
    [(rule_name, rule)] = rules.items()
    [target] = [t for t in props(rule)["Targets"] if t["Arn"] == {"Fn::GetAtt": [DRILL, "Arn"]}]
    try:
        marker = json.loads(str(target.get("Input")))
    except ValueError:
        marker = None
    if not is_drill_event(marker):
        problems.append(f"{rule_name}: Input {target.get('Input')!r} is not the drill marker")
    schedule = parameter(template, props(rule).get("ScheduleExpression"))
    if schedule is None:
        return [*problems, f"{rule_name}: ScheduleExpression must come from a parameter"]
    pattern = str(schedule.get("AllowedPattern", ""))
    accepted = ("off", "rate(7 days)", "rate(1 day)", "cron(0 3 ? * SUN *)")
    refused = ("", "rate(5 minutes)", "weekly")
    if not all(re.fullmatch(pattern, value) for value in accepted) or any(
        re.fullmatch(pattern, value) for value in refused
    ):
        problems.append(f"{rule_name}: the schedule parameter must take rate/cron or off")
    # DrillMissingAlarm looks back 7 days (CloudWatch's longest window): a default schedule
    # must fit a drill into every such window.
    if not re.fullmatch(r"rate\(([1-6] days|1 day)\)|cron\(.+\)", str(schedule.get("Default"))):
        problems.append(f"{rule_name}: the schedule should default to at most 6 days apart")
    name = props(rule).get("ScheduleExpression", {}).get("Ref")
    condition = template.get("Conditions", {}).get(str(rule.get("Condition")))
    if condition != {"Fn::Not": [{"Fn::Equals": [{"Ref": name}, "off"]}]}:
        problems.append(f"{rule_name}: must exist only when {name} is not off")
    permissions = [
        permission
        for permission in all_resources(template, "AWS::Lambda::Permission").values()
        if props(permission).get("SourceArn") == {"Fn::GetAtt": [rule_name, "Arn"]}
    ]
    if not any(
        props(p).get("FunctionName") == {"Ref": DRILL}
        and props(p).get("Principal") == "events.amazonaws.com"
        and props(p).get("Action") == "lambda:InvokeFunction"
        and p.get("Condition") == rule.get("Condition")
        for p in permissions
    ):
        problems.append(f"{rule_name}: EventBridge may not invoke {DRILL} (Lambda permission)")
    return problems


def check_drill_alarm(template: Template) -> list[str]:
    for alarm in all_resources(template, "AWS::CloudWatch::Alarm").values():
        p = props(alarm)
        if (
            p.get("Namespace") == "AWS/Lambda"
            and p.get("MetricName") == "Errors"
            and p.get("Dimensions") == [{"Name": "FunctionName", "Value": {"Ref": DRILL}}]
            and p.get("Threshold") == 1
            and p.get("ComparisonOperator") == "GreaterThanOrEqualToThreshold"
            and p.get("AlarmActions") == [ALARM_TOPIC]
        ):
            return []
    return [f"no alarm on {DRILL}'s Errors (a failed drill) notifying the alarm topic"]


def check_drill_build(template: Template) -> list[str]:
    """`sam build` runs `make build-<LogicalId>` for every makefile-built function."""
    makefile = INFRA_DIR / str(props(_resource(template, DRILL)).get("CodeUri", "")) / "Makefile"
    text = makefile.read_text(encoding="utf-8") if makefile.is_file() else ""
    if not re.search(rf"^build-{DRILL}\s*:", text, re.MULTILINE):
        return [f"{makefile}: no build-{DRILL} target for sam build"]
    return []


DRILL_CHECKS: dict[str, Callable[[Template], list[str]]] = {
    check.__name__.removeprefix("check_"): check
    for check in (
        check_drill_function,
        check_drill_role_is_read_only,
        check_drill_schedule,
        check_drill_alarm,
        check_drill_build,
    )
}


@pytest.mark.parametrize("check", DRILL_CHECKS.values(), ids=DRILL_CHECKS.keys())
def test_drill_template_property(check: Callable[[Template], list[str]]) -> None:
    assert check(load_template()) == []


def _drill(t: Template) -> dict[str, Any]:
    return props(t["Resources"][DRILL])


def _rule(t: Template) -> dict[str, Any]:
    return props(t["Resources"]["DrillScheduleRule"])


def _writes_items(t: Template) -> None:
    for policy in props(t["Resources"][DRILL_ROLE])["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if "dynamodb:Scan" in as_list(statement["Action"]):
                statement["Action"] = [*as_list(statement["Action"]), "dynamodb:PutItem"]


def _no_scan(t: Template) -> None:
    for policy in props(t["Resources"][DRILL_ROLE])["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = [a for a in as_list(statement["Action"]) if a != "dynamodb:Scan"]
            statement["Action"] = actions


def _other_table(t: Template) -> None:
    _drill(t)["Environment"]["Variables"]["DEMOBACKEND_TABLE_NAME"] = "another-table"


DRILL_REGRESSIONS: list[tuple[Callable[[Template], None], str]] = [
    (lambda t: t["Resources"].pop(DRILL), "drill_function"),
    (lambda t: _drill(t).update(Timeout=29), "drill_function"),
    (lambda t: _drill(t).update(Handler="api.other.handler"), "drill_function"),
    (lambda t: _drill(t).update(EphemeralStorage={"Size": 20480}), "drill_function"),
    (lambda t: _drill(t).pop("EventInvokeConfig"), "drill_function"),
    (lambda t: _drill(t).update(ReservedConcurrentExecutions=10), "drill_function"),
    (_other_table, "drill_function"),
    (_writes_items, "drill_role_is_read_only"),
    (_no_scan, "drill_role_is_read_only"),
    (
        lambda t: _drill(t).update(Role={"Fn::GetAtt": ["ApiFunctionRole", "Arn"]}),
        "drill_role_is_read_only",
    ),
    (lambda t: _rule(t)["Targets"][0].update(Input='{"demobackend": "backup"}'), "drill_schedule"),
    (lambda t: _rule(t)["Targets"][0].pop("Input"), "drill_schedule"),
    (lambda t: _rule(t).update(ScheduleExpression="rate(7 days)"), "drill_schedule"),
    (lambda t: t["Resources"].pop("DrillSchedulePermission"), "drill_schedule"),
    (lambda t: t["Resources"]["DrillScheduleRule"].pop("Condition"), "drill_schedule"),
    (lambda t: t["Resources"].pop("DrillFailedAlarm"), "drill_alarm"),
    (lambda t: props(t["Resources"]["DrillFailedAlarm"]).update(AlarmActions=[]), "drill_alarm"),
    (lambda t: _drill(t).update(CodeUri="elsewhere/"), "drill_build"),
]


@pytest.mark.parametrize(("mutate", "check"), DRILL_REGRESSIONS)
def test_a_drill_regression_is_caught(mutate: Callable[[Template], None], check: str) -> None:
    broken = copy.deepcopy(load_template())
    mutate(broken)
    assert DRILL_CHECKS[check](broken) != []


def test_every_drill_check_has_a_regression() -> None:
    assert {check for _, check in DRILL_REGRESSIONS} == set(DRILL_CHECKS)


# --------------------------------------------------------------------------- workflow ----


def test_the_drill_workflow_passes_actionlint() -> None:
    assert actionlint_findings(DRILL_WORKFLOW) == []


def test_actionlint_catches_a_broken_drill_workflow(tmp_path: Any) -> None:
    broken = tmp_path / "drill.yml"
    text = DRILL_WORKFLOW.read_text(encoding="utf-8")
    broken.write_text(text.replace("${{ vars.DRILL_AWS", "${{ varz.DRILL_AWS"), encoding="utf-8")
    assert "varz" in " ".join(f["message"] for f in actionlint_findings(broken))


def test_the_drill_workflow_runs_weekly_and_on_demand_with_least_privilege() -> None:
    workflow = load(DRILL_WORKFLOW)
    on = triggers(workflow)
    assert "workflow_dispatch" in on
    [schedule] = on["schedule"]
    _minute, _hour, day_of_month, month, day_of_week = schedule["cron"].split()
    assert (day_of_month, month) == ("*", "*") and day_of_week.isdigit()  # once a week
    assert workflow["permissions"] == {"contents": "read"}
    local = workflow["jobs"]["local"]
    uses = [str(step.get("uses", "")) for step in steps(local)]
    python = [s for s in steps(local) if "setup-python" in str(s.get("uses", ""))]
    assert python and python[0]["with"]["python-version"] == "3.11", uses
    runs = step_runs(local)
    assert "make " in runs
    # Seeded through the API first, then the drill, whose exit status is the job's.
    assert runs.index("files.upload") < runs.index("demobackend drill")
    assert "set -o pipefail" in runs


def test_the_aws_drill_assumes_a_role_and_invokes_with_the_marker() -> None:
    job = load(DRILL_WORKFLOW)["jobs"]["aws-staging"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert job["environment"]["name"] == "staging"
    [credentials] = [s for s in steps(job) if "configure-aws-credentials" in str(s.get("uses"))]
    assert credentials["with"]["role-to-assume"].startswith("${{ vars.")
    runs = step_runs(job)
    payload = re.search(r"--payload '([^']+)'", runs)
    assert payload is not None and is_drill_event(json.loads(payload[1]))
    assert "DrillFunctionName" in runs and "DrillFunctionName" in load_template()["Outputs"]


# ----------------------------------------------------------------------------- runbook ----


def test_the_runbook_documents_the_drill_and_its_parameters() -> None:
    readme = (INFRA_DIR / "README.md").read_text(encoding="utf-8")
    assert "## Backups and disaster recovery" in readme
    section = readme.split("## Backups and disaster recovery", 1)[1].split("\n## ", 1)[0]
    parameters = load_template()["Parameters"]
    for name in ("DrillSchedule", "DrillEphemeralStorageMB", "BackupCopyRegion"):
        assert name in parameters and f"`{name}`" in section, name
    for disaster in (
        "Bad deploy",
        "Corrupted data",
        "Deleted or overwritten objects",
        "Lost region",
    ):
        assert disaster in section, disaster
    # The runbook quotes the measured restore time and where it comes from.
    assert re.search(r"RTO measured .*bench/README\.md \"Backup and restore\"", section)
    assert re.search(r"in \d+ s;", section)
