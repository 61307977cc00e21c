"""Checks on who may reach what: the API's routes and authorizer, its stage settings, and
the IAM statements the template writes."""

from __future__ import annotations

import json
from typing import Any

from domain.files import blob_key_for
from ops.aws_resources import resources as shared_resources
from tests.infra.cfn import (
    Template,
    as_list,
    parameter,
    props,
    resources,
    sub_text,
)
from tests.infra.checks_common import (
    ALLOWED_MANAGED_POLICIES,
    ALLOWED_WILDCARD_RESOURCES,
    AUTHORIZED_ROUTES,
    AUTHORIZER,
    BUCKET_NAME,
    FUNCTION,
    FUNCTION_ROLE,
    HTTP_API,
    PUBLIC_ROUTES,
    hides_wildcard,
    managed_policy_arns,
    resource_text,
)


def http_api_routes(template: Template) -> dict[tuple[str, str], str]:
    """``(METHOD, path) -> authorizer name`` ("NONE" for public) of every HttpApi event."""
    api = props(resources(template).get(HTTP_API, {}))
    default = api.get("Auth", {}).get("DefaultAuthorizer", "NONE")
    routes: dict[tuple[str, str], str] = {}
    for function in resources(template, "AWS::Serverless::Function").values():
        for event in props(function).get("Events", {}).values():
            if event.get("Type") != "HttpApi":
                continue
            p = event.get("Properties", {})
            key = (str(p.get("Method", "ANY")).upper(), str(p.get("Path", "$default")))
            routes[key] = p.get("Auth", {}).get("Authorizer", default)
    return routes


def check_routes(template: Template) -> list[str]:
    problems: list[str] = []
    routes = http_api_routes(template)
    for route, authorizer in sorted(routes.items()):
        if route in PUBLIC_ROUTES:
            if authorizer != "NONE":
                problems.append(f"route {route}: must be public, has {authorizer}")
        elif authorizer != AUTHORIZER:
            problems.append(f"route {route}: needs the {AUTHORIZER} authorizer, has {authorizer}")
        if route[0] == "ANY":
            problems.append(f"route {route}: ANY catches CORS preflights; name the methods")
    for route in sorted((PUBLIC_ROUTES | AUTHORIZED_ROUTES) - set(routes)):
        problems.append(f"route {route}: missing")
    authorizer = (
        props(resources(template).get(HTTP_API, {}))
        .get("Auth", {})
        .get("Authorizers", {})
        .get(AUTHORIZER, {})
    )
    jwt = authorizer.get("JwtConfiguration", {})
    issuer = sub_text(jwt.get("issuer"))
    if not issuer or not issuer.startswith("https://cognito-idp.${AWS::Region}.amazonaws.com/"):
        problems.append(f"authorizer {AUTHORIZER}: issuer must be the Cognito user pool")
    if not jwt.get("audience"):
        problems.append(f"authorizer {AUTHORIZER}: audience (client ids) must be set")
    if authorizer.get("IdentitySource") != "$request.header.Authorization":
        problems.append(f"authorizer {AUTHORIZER}: must read the Authorization header")
    return problems


def check_api_stage(template: Template) -> list[str]:
    p = props(resources(template).get(HTTP_API, {}))
    problems: list[str] = []
    settings = p.get("DefaultRouteSettings", {})
    for key in ("ThrottlingRateLimit", "ThrottlingBurstLimit"):
        if parameter(template, settings.get(key)) is None:
            problems.append(f"api: {key} must come from a parameter")
    logs = p.get("AccessLogSettings", {})
    try:
        fields = json.loads(str(logs.get("Format", "")))
    except ValueError:
        fields = None
    if not isinstance(fields, dict) or "requestId" not in fields:
        problems.append("api: access logs must be JSON with the request id")
    return problems


def iam_statements(template: Template) -> list[tuple[str, dict[str, Any]]]:
    """``(where, statement)`` of every identity policy statement the template writes."""
    found: list[tuple[str, dict[str, Any]]] = []
    for name, res in resources(template).items():
        p = props(res)
        documents: list[tuple[str, Any]] = []
        if res.get("Type") == "AWS::IAM::Role":
            documents += [
                (f"{name}/{policy.get('PolicyName')}", policy.get("PolicyDocument", {}))
                for policy in p.get("Policies", [])
            ]
        elif res.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append((name, p.get("PolicyDocument", {})))
        elif res.get("Type") == "AWS::Serverless::Function":
            for index, policy in enumerate(as_list(p.get("Policies", []))):
                if isinstance(policy, dict) and "Statement" in policy:
                    documents.append((f"{name}/Policies[{index}]", policy))
        for where, document in documents:
            found += [(where, s) for s in as_list(document.get("Statement", []))]
    return found


def check_no_wildcards(template: Template) -> list[str]:
    problems: list[str] = []
    for where, statement in iam_statements(template):
        if statement.get("Effect") != "Allow":
            problems.append(f"{where}: only Allow statements expected")
        if "NotAction" in statement or "NotResource" in statement:
            problems.append(f"{where}: NotAction/NotResource grant everything else")
        for action in as_list(statement.get("Action", [])):
            if not isinstance(action, str) or "*" in action:
                problems.append(f"{where}: action {action!r} has a wildcard")
        for resource in as_list(statement.get("Resource", [])):
            text = resource_text(resource)
            if text is None:
                problems.append(f"{where}: resource {resource!r} cannot be checked")
            elif "*" in text and text not in ALLOWED_WILDCARD_RESOURCES:
                problems.append(f"{where}: resource {text!r} has a wildcard")
            elif text.startswith("GetAtt:") and hides_wildcard(template, text):
                problems.append(f"{where}: resource {text!r} is an ARN ending in ':*'")
    for name, res in resources(template, "AWS::IAM::Role").items():
        for arn in managed_policy_arns(props(res).get("ManagedPolicyArns")):
            if arn not in ALLOWED_MANAGED_POLICIES:
                problems.append(f"{name}: managed policy {arn!r} is not an allowed one")
    return problems


def check_function_permissions(template: Template) -> list[str]:
    """The function's role reaches this table, exactly its indexes, and this bucket."""
    function = props(resources(template).get(FUNCTION, {}))
    problems: list[str] = []
    if function.get("Role") != {"Fn::GetAtt": [FUNCTION_ROLE, "Arn"]}:
        problems.append(f"function: must run as {FUNCTION_ROLE} (SAM's own role adds '*' logs)")
    if "Policies" in function:
        problems.append("function: Policies would be ignored next to Role")
    table_resources: set[str] = set()
    bucket_resources: set[str] = set()
    for where, statement in iam_statements(template):
        if not where.startswith(f"{FUNCTION_ROLE}/"):
            continue
        actions = as_list(statement.get("Action", []))
        texts = {resource_text(resource) or "?" for resource in as_list(statement.get("Resource"))}
        if any(str(action).startswith("dynamodb:") for action in actions):
            table_resources |= texts
        if any(str(action).startswith("s3:") for action in actions):
            bucket_resources |= texts
    indexes = [
        i["IndexName"] for i in shared_resources()["table"]["create"]["GlobalSecondaryIndexes"]
    ]
    expected_table = {"GetAtt:Table.Arn"} | {f"${{Table.Arn}}/index/{index}" for index in indexes}
    if table_resources != expected_table:
        problems.append(
            f"function: DynamoDB resources {sorted(table_resources)} != {sorted(expected_table)}"
        )
    expected_bucket = {
        f"arn:${{AWS::Partition}}:s3:::{BUCKET_NAME}",
        f"arn:${{AWS::Partition}}:s3:::{BUCKET_NAME}/files/*",
    }
    if bucket_resources != expected_bucket:
        problems.append(
            f"function: S3 resources {sorted(bucket_resources)} != {sorted(expected_bucket)}"
        )
    if not blob_key_for("x").startswith("files/"):
        problems.append("function: blob keys left the files/ prefix the policy grants")
    return problems
