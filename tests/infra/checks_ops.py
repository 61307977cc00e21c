"""Checks on what tells an operator something is wrong: who gets paged, what the alarms
watch, which alarms roll a deployment back, and where failed events go."""

from __future__ import annotations

from typing import Any

from tests.infra.cfn import Template

PRODUCTION = "production"


class RuleError(ValueError):
    """A rule uses a function this evaluator does not know."""


def _value(node: Any, parameters: dict[str, Any]) -> Any:
    """CloudFormation's rule functions over parameter values (what Rules may use)."""
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        return str(parameters[node["Ref"]])
    (name, args), *rest = node.items()
    if rest:
        raise RuleError(f"not one function: {node!r}")
    values = [_value(arg, parameters) for arg in args] if isinstance(args, list) else []
    if name == "Fn::Equals":
        return values[0] == values[1]
    if name == "Fn::Not":
        return not values[0]
    if name == "Fn::And":
        return all(values)
    if name == "Fn::Or":
        return any(values)
    if name == "Fn::Contains":
        return values[1] in values[0]
    raise RuleError(f"unknown rule function {name}")


def rule_failures(template: Template, overrides: dict[str, Any]) -> list[str]:
    """The AssertDescriptions CloudFormation would answer for these parameter values."""
    parameters = {
        name: spec.get("Default", "") for name, spec in template.get("Parameters", {}).items()
    }
    parameters |= overrides
    failures = []
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not _value(rule["RuleCondition"], parameters):
            continue
        for assertion in rule.get("Assertions", []):
            if not _value(assertion["Assert"], parameters):
                failures.append(f"{name}: {assertion.get('AssertDescription', '')}")
    return failures


def check_production_pages(template: Template) -> list[str]:
    """Production without a paging topic is refused; staging without one is not."""
    problems = []
    topic = {"AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:pager"}
    try:
        if not rule_failures(template, {"EnvironmentName": PRODUCTION}):
            problems.append("rules: production deploys without AlarmTopicArn")
        if rule_failures(template, {"EnvironmentName": PRODUCTION, **topic}):
            problems.append("rules: production with AlarmTopicArn is refused")
        if rule_failures(template, {"EnvironmentName": "staging"}):
            problems.append("rules: staging must be allowed to leave AlarmTopicArn empty")
    except (RuleError, KeyError, IndexError) as error:
        problems.append(f"rules: cannot evaluate ({error})")
    return problems
