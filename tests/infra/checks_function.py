"""Checks on the function (runtime, packaging, SnapStart, deployment, environment, the
upload event) and on what watches it (alarms, dashboard, outputs)."""

from __future__ import annotations

import dataclasses
import json
import re

from api.settings import ENV_PREFIX, Settings
from domain.files import blob_key_for, ready_key_for
from scripts.package_lambda import HANDLER, PYTHON_VERSION
from tests.infra.cfn import (
    INFRA_DIR,
    Template,
    parameter,
    props,
    resources,
    sub_text,
    walk,
)
from tests.infra.checks_common import (
    ALARM_TOPIC,
    BUCKET,
    BUCKET_NAME,
    FUNCTION,
    MIN_PYTHON,
    REQUIRED_OUTPUTS,
    alarm_watches,
    bucket_props,
    field_limit,
    timeout_problems,
)


def check_function(template: Template) -> list[str]:
    function = resources(template).get(FUNCTION)
    if function is None:
        return [f"no function {FUNCTION}"]
    p = props(function)
    problems: list[str] = []
    runtime = str(p.get("Runtime", ""))
    match = re.fullmatch(r"python(\d+)\.(\d+)", runtime)
    if match is None or (int(match[1]), int(match[2])) < MIN_PYTHON:
        problems.append(f"function: runtime {runtime!r} is not python3.12 or newer")
    if runtime != f"python{PYTHON_VERSION}":
        problems.append(f"function: runtime {runtime!r} != the package's python{PYTHON_VERSION}")
    if p.get("Architectures") != ["arm64"]:
        problems.append("function: must be arm64")
    if p.get("Handler") != HANDLER:
        problems.append(f"function: handler must be {HANDLER}")
    problems += timeout_problems(template, p.get("Timeout"))
    if p.get("SnapStart") != {"ApplyOn": "PublishedVersions"}:
        problems.append("function: SnapStart must apply on published versions")
    if not p.get("AutoPublishAlias"):
        problems.append("function: AutoPublishAlias is needed for SnapStart and rollbacks")
    preference = p.get("DeploymentPreference", {})
    if not preference.get("Type") or not preference.get("Alarms"):
        problems.append("function: DeploymentPreference needs a Type and rollback alarms")
    for key in ("MemorySize", "ReservedConcurrentExecutions"):
        value = p.get(key)
        refs = {node["Ref"] for node in walk(value) if isinstance(node, dict) and "Ref" in node}
        if not refs & set(template.get("Parameters", {})):
            problems.append(f"function: {key} must come from a parameter")
    if function.get("Metadata", {}).get("BuildMethod") != "makefile":
        problems.append("function: BuildMethod must be makefile (SAM's builder drops .pyc)")
    makefile = INFRA_DIR / str(p.get("CodeUri", "")) / "Makefile"
    if not makefile.is_file() or f"build-{FUNCTION}:" not in makefile.read_text(encoding="utf-8"):
        problems.append(f"function: {makefile} has no build-{FUNCTION} target")
    return problems


def check_function_environment(template: Template) -> list[str]:
    """Every variable names a real setting, production's choices are fixed, the cursor key
    is a secret reference and the bucket is named as the bucket resource names it."""
    env = props(resources(template).get(FUNCTION, {})).get("Environment", {}).get("Variables", {})
    problems: list[str] = []
    fields = {spec.name for spec in dataclasses.fields(Settings)}
    for name in env:
        if not name.startswith(ENV_PREFIX) or name.removeprefix(ENV_PREFIX).lower() not in fields:
            problems.append(f"environment: {name} is not a setting (api/settings.py)")
    fixed = {"DEMOBACKEND_BACKEND": "aws", "DEMOBACKEND_AUTH_MODE": "cognito"}
    for name, value in fixed.items():
        if env.get(name) != value:
            problems.append(f"environment: {name} must be {value!r}")
    required = (
        "TABLE_NAME",
        "BUCKET",
        "AWS_REGION",
        "COGNITO_USER_POOL_ID",
        "COGNITO_CLIENT_IDS",
        "CURSOR_SECRET",
        "CORS_ORIGINS",
        "INTROSPECTION",
        "MAX_UPLOAD_BYTES",
    )
    for name in required:
        if f"{ENV_PREFIX}{name}" not in env:
            problems.append(f"environment: {ENV_PREFIX}{name} missing")
    secret = sub_text(env.get(f"{ENV_PREFIX}CURSOR_SECRET"))
    if not secret or not secret.startswith("{{resolve:secretsmanager:"):
        problems.append("environment: the cursor secret must be a Secrets Manager reference")
    if sub_text(env.get(f"{ENV_PREFIX}BUCKET")) != BUCKET_NAME:
        problems.append("environment: BUCKET must be the bucket's name, built with !Sub")
    bucket_name = sub_text(bucket_props(template).get("BucketName"))
    if bucket_name != BUCKET_NAME:
        problems.append(f"bucket: name {bucket_name!r} != {BUCKET_NAME!r} (IAM and env use it)")
    upload = parameter(template, env.get(f"{ENV_PREFIX}MAX_UPLOAD_BYTES"))
    limit = field_limit("max_upload_bytes")
    if upload is None or limit is None or int(upload.get("MaxValue", limit + 1)) > limit:
        problems.append("environment: MAX_UPLOAD_BYTES parameter allows more than Settings")
    return problems


def check_upload_event(template: Template) -> list[str]:
    events = props(resources(template).get(FUNCTION, {})).get("Events", {})
    key, ready = blob_key_for("0123abcd"), ready_key_for("0123abcd")
    for event in events.values():
        p = event.get("Properties", {})
        if event.get("Type") != "S3" or p.get("Bucket") != {"Ref": BUCKET}:
            continue
        rules = {
            r["Name"]: r["Value"] for r in p.get("Filter", {}).get("S3Key", {}).get("Rules", [])
        }
        if (
            p.get("Events") in ("s3:ObjectCreated:*", ["s3:ObjectCreated:*"])
            and key.startswith(rules.get("prefix", ""))
            and key.endswith(rules.get("suffix", ""))
            and rules.get("prefix")
        ):
            # Completing copies to a ready key; its event would only be ignored.
            if ready.startswith(rules["prefix"]) and ready.endswith(rules.get("suffix", "")):
                return [f"function: the S3 upload event also fires for ready keys like {ready}"]
            return []
    return [f"function: no S3 ObjectCreated event on {BUCKET} matching blob keys like {key}"]


def check_alarms(template: Template) -> list[str]:
    problems: list[str] = []
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    for name, alarm in alarms.items():
        actions = props(alarm).get("AlarmActions", [])
        if not actions or any(
            action not in (ALARM_TOPIC, {"Ref": "AlarmTopicArn"}) for action in actions
        ):
            problems.append(f"alarm {name}: AlarmActions must be the alarm topic")
    watched = {watch[:3] for alarm in alarms.values() for watch in alarm_watches(alarm)}
    required = {
        ("AWS/Lambda", "Errors", None): "function errors",
        ("AWS/Lambda", "Throttles", None): "function throttles",
        ("AWS/Lambda", "Duration", "p99"): "function p99 duration",
        ("AWS/ApiGateway", "5xx", "Sum"): "API 5xx",
        ("AWS/DynamoDB", "ThrottledRequests", "Sum"): "DynamoDB throttles",
        ("AWS/DynamoDB", "SystemErrors", "Sum"): "DynamoDB system errors",
    }
    for key, what in required.items():
        if key not in watched:
            problems.append(f"alarms: nothing watches {what}")
    preference = props(resources(template).get(FUNCTION, {})).get("DeploymentPreference", {})
    for alarm in preference.get("Alarms", []):
        if not (isinstance(alarm, dict) and alarm.get("Ref") in alarms):
            problems.append(f"function: rollback alarm {alarm!r} is not an alarm of this stack")
    dashboards = resources(template, "AWS::CloudWatch::Dashboard")
    if not dashboards:
        problems.append("no CloudWatch dashboard")
    for name, dashboard in dashboards.items():
        body = sub_text(props(dashboard).get("DashboardBody")) or ""
        # Every ${...} becomes a plain word: what is left must be the JSON CloudWatch reads.
        try:
            document = json.loads(re.sub(r"\$\{[^}]+\}", "0", body))
        except ValueError as error:
            problems.append(f"{name}: the body is not JSON once substituted ({error})")
            continue
        shown = {a for w in document.get("widgets", []) for a in w["properties"].get("alarms", [])}
        for alarm_name in alarms:
            if f"${{{alarm_name}.Arn}}" not in body:
                problems.append(f"{name}: alarm {alarm_name} is not on the dashboard")
        if not shown:
            problems.append(f"{name}: no alarm widget")
    return problems


def check_outputs(template: Template) -> list[str]:
    missing = REQUIRED_OUTPUTS - set(template.get("Outputs", {}))
    return [f"output {name} missing" for name in sorted(missing)]
