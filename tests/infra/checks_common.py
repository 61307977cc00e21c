"""What the template checks share: the logical ids they look for, the few exceptions
they allow (each with its reason), and helpers to read CloudFormation values."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from typing import Any

from api.graphiql import GRAPHIQL_ASSETS_PATH
from api.settings import Settings, rule_of
from tests.infra.cfn import (
    Template,
    parameter,
    props,
    resources,
    sub_text,
    walk,
)

Check = Callable[[Template], list[str]]

FUNCTION = "ApiFunction"
FUNCTION_ROLE = "ApiFunctionRole"
BUCKET = "FilesBucket"
TABLE = "Table"
HTTP_API = "HttpApi"
AUTHORIZER = "CognitoJwt"
BUCKET_NAME = "${AWS::StackName}-files-${AWS::AccountId}-${AWS::Region}"
# Lambda's runtime with SnapStart for Python starts at 3.12; API Gateway's HTTP API gives up
# on an integration after 30 s.
MIN_PYTHON = (3, 12)
API_GATEWAY_TIMEOUT_SECONDS = 30

# Routes without the authorizer: the playground page and its assets, liveness, the REST
# shim's description. Everything else API Gateway routes must carry the JWT authorizer.
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/graphql"),
        ("GET", f"{GRAPHIQL_ASSETS_PATH}/{{proxy+}}"),
        ("GET", "/healthz"),
        ("GET", "/rest/openapi.json"),
    }
)
AUTHORIZED_ROUTES = frozenset(
    {("POST", "/graphql"), ("GET", "/readyz")}
    | {(method, "/rest/{proxy+}") for method in ("GET", "POST", "PUT", "PATCH", "DELETE")}
)

# The only resource patterns with a wildcard our own IAM statements may use: objects under
# the bucket's files/ prefix, and the log streams Lambda names itself in our log group.
ALLOWED_WILDCARD_RESOURCES = frozenset(
    {
        f"arn:${{AWS::Partition}}:s3:::{BUCKET_NAME}/files/*",
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
        "${FunctionLogGroup}:*",
        # Replicas of the files' bytes in the second region (FilesReplicaBucket).
        "arn:${AWS::Partition}:s3:::${FilesReplicaBucket}/files/*",
        # The pre-traffic hook reports to this stack's CodeDeploy application, whose
        # deployment group SAM names itself.
        "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:"
        "${ServerlessDeploymentApplication}/*",
        # The realtime functions: the items table's stream (its label is a timestamp
        # DynamoDB picks), and posting to sockets of this WebSocket API's stage (methods
        # and connection ids are the client's).
        "${Table.Arn}/stream/*",
        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
        "${RealtimeApi}/live/*/@connections/*",
    }
)
# AWS managed policies our roles may attach (each has a '*' resource AWS requires).
ALLOWED_MANAGED_POLICIES = frozenset(
    {
        "arn:${AWS::Partition}:iam::aws:policy/AWSXRayDaemonWriteAccess",
        "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
        "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    }
)
# Lifecycle rules the template has beyond infra/resources.json (AWS-only features).
TEMPLATE_ONLY_LIFECYCLE_RULES = frozenset({"noncurrent-to-glacier-ir"})
REQUIRED_OUTPUTS = frozenset(
    {"ApiUrl", "PlaygroundUrl", "UserPoolId", "UserPoolClientId", "TableName", "BucketName"}
)
ALARM_TOPIC = {"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}


def bucket_props(template: Template) -> dict[str, Any]:
    return props(resources(template).get(BUCKET, {}))


def retained(name: str, resource: dict[str, Any]) -> list[str]:
    return [
        f"{name}: {policy} must be Retain"
        for policy in ("DeletionPolicy", "UpdateReplacePolicy")
        if resource.get(policy) != "Retain"
    ]


def whole_bucket(rule: dict[str, Any]) -> bool:
    return rule.get("Prefix", "") == "" and not rule.get("TagFilters")


def unless(value: Any, condition: str, pick: Callable[[Any], Any]) -> Any:
    """``pick`` applied to the true branch of ``!If [condition, X, !Ref AWS::NoValue]``."""
    if isinstance(value, dict) and "Fn::If" in value:
        name, when_true, when_false = value["Fn::If"]
        if name == condition and when_false == {"Ref": "AWS::NoValue"}:
            try:
                return pick(when_true)
            except (KeyError, IndexError, TypeError):
                return None
    return None


def resource_text(resource: Any) -> str | None:
    # SAM's !Ref FUNCTION.Version: the ARN of one published version, no wildcard.
    if isinstance(resource, dict) and str(resource.get("Ref", "")).endswith(".Version"):
        return f"Ref:{resource['Ref']}"
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        target = resource["Fn::GetAtt"]
        return f"GetAtt:{target[0]}.{target[1]}" if isinstance(target, list) else None
    return sub_text(resource)


def hides_wildcard(template: Template, text: str) -> bool:
    """GetAtt Arn of a log group is ``…:log-group:NAME:*``."""
    name = text.removeprefix("GetAtt:").split(".")[0]
    return resources(template).get(name, {}).get("Type") == "AWS::Logs::LogGroup"


def managed_policy_arns(value: Any) -> Iterable[str]:
    for node in walk(value):
        text = sub_text(node) if isinstance(node, dict) and "Fn::Sub" in node else None
        if text is not None:
            yield text
        elif isinstance(node, str) and node.startswith("arn:"):
            yield node


def timeout_problems(template: Template, timeout: Any) -> list[str]:
    param = parameter(template, timeout)
    if param is not None:
        values = [param.get("Default"), param.get("MaxValue")]
        if any(v is None or int(v) >= API_GATEWAY_TIMEOUT_SECONDS for v in values):
            return ["function: the Timeout parameter must stay under 30 s (Default and MaxValue)"]
        return []
    if isinstance(timeout, int) and timeout < API_GATEWAY_TIMEOUT_SECONDS:
        return []
    return [f"function: timeout {timeout!r} must be under API Gateway's 30 s"]


def field_limit(field: str) -> int | None:
    (spec,) = (spec for spec in dataclasses.fields(Settings) if spec.name == field)
    le = rule_of(spec).le
    return le if isinstance(le, int) else None


def sorted_dicts(items: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(item, sort_keys=True) for item in items)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def alarm_watches(alarm: dict[str, Any]) -> list[tuple[str | None, Any, Any, str]]:
    """``(namespace, metric, statistic, dimensions)`` of every metric an alarm reads, in
    either form (one metric, or metric math, also inside ``!If``); namespaces as written
    (``!Sub`` text), dimensions as canonical JSON."""
    p = props(alarm)
    found = []
    if p.get("MetricName"):
        found.append(
            (
                sub_text(p.get("Namespace")),
                p.get("MetricName"),
                p.get("ExtendedStatistic"),
                canonical(p.get("Dimensions", [])),
            )
        )
    for node in walk(p.get("Metrics", [])):
        if isinstance(node, dict) and isinstance(node.get("MetricStat"), dict):
            stat = node["MetricStat"]
            inner = stat.get("Metric", {})
            found.append(
                (
                    sub_text(inner.get("Namespace")),
                    inner.get("MetricName"),
                    stat.get("Stat"),
                    canonical(inner.get("Dimensions", [])),
                )
            )
    return found
