"""Checks on what tells an operator something is wrong: who gets paged, what the alarms
watch, which alarms roll a deployment back, and where failed events go."""

from __future__ import annotations

from typing import Any

from api.observability.logs import SERVICE
from api.observability.metrics import (
    BREAKER_OPEN_METRIC,
    INTERNAL_ERRORS_METRIC,
    UNAVAILABLE_METRIC,
)
from domain.files import blob_key_for
from tests.infra.cfn import INFRA_DIR, Template, as_list, props, resources, sub_text, walk
from tests.infra.checks_common import (
    ALARM_TOPIC,
    FUNCTION,
    FUNCTION_ROLE,
    alarm_watches,
    canonical,
)

PRODUCTION = "production"
# The metric filter on the API's access log (HTTP APIs publish no 429 metric).
API_429_METRIC = "Api429"
DRILL = "DrillFunction"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:pager"
SMOKE_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:smoke-user-AbCdEf"
HOOK_HANDLER = "ops.pre_traffic.handler"
REPLICA_ARN = "arn:${AWS::Partition}:s3:::${FilesReplicaBucket}"


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
    return _required_on(template, "AlarmTopicArn", TOPIC, {PRODUCTION}, ("staging", "dev"))


def _required_on(
    template: Template, name: str, value: str, required: set[str], optional: tuple[str, ...]
) -> list[str]:
    """The Rules refuse ``required`` environments without the parameter ``name``, accept
    them with ``value``, and let ``optional`` ones leave it empty."""
    problems = []

    def refused(environment: str, given: dict[str, str]) -> bool:
        failures = rule_failures(template, {"EnvironmentName": environment, **given})
        return any(name in failure for failure in failures)

    try:
        for environment in sorted(required):
            if not refused(environment, {}):
                problems.append(f"rules: {environment} deploys without {name}")
            if refused(environment, {name: value}):
                problems.append(f"rules: {environment} with {name} is refused")
        for environment in optional:
            if refused(environment, {}):
                problems.append(f"rules: {environment} must be allowed to leave {name} empty")
    except (RuleError, KeyError, IndexError) as error:
        problems.append(f"rules: cannot evaluate ({error})")
    return problems


APP_NAMESPACE = "DemoBackend/${AWS::StackName}"
# Each: what the alarm must watch, and whether it must roll a canary back.
APP_ALARMS: dict[tuple[str, str], tuple[str, bool]] = {
    (APP_NAMESPACE, INTERNAL_ERRORS_METRIC): ("the app's internal errors", True),
    (APP_NAMESPACE, UNAVAILABLE_METRIC): ("SERVICE_UNAVAILABLE answers", True),
    (APP_NAMESPACE, BREAKER_OPEN_METRIC): ("an opened circuit breaker", True),
    ("AWS/ApiGateway", "4xx"): ("the API's 4xx", False),
    (APP_NAMESPACE, API_429_METRIC): ("the API's 429s", False),
    ("AWS/Lambda", "AsyncEventsDropped"): ("dropped S3 events", False),
    ("AWS/Lambda", "ConcurrentExecutions"): ("reserved concurrency headroom", False),
    ("AWS/Lambda", "ClaimedAccountConcurrency"): ("account concurrency headroom", False),
}


def _alarm_metrics(template: Template) -> dict[str, set[tuple[str | None, Any]]]:
    return {
        name: {(namespace, metric) for namespace, metric, _, _ in alarm_watches(alarm)}
        for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items()
    }


def check_app_alarms(template: Template) -> list[str]:
    """Alarms see what users see: the app's own EMF metrics (names from
    api/observability/metrics.py, service dimension from its logger), 4xx and 429 rates,
    dropped events and concurrency headroom; the app-fault alarms roll a canary back; one
    error of the function pages through one alarm, not two."""
    problems: list[str] = []
    watched = _alarm_metrics(template)
    preference = props(resources(template).get(FUNCTION, {})).get("DeploymentPreference", {})
    rollback = {a.get("Ref") for a in preference.get("Alarms", []) if isinstance(a, dict)}
    for key, (what, rolls_back) in APP_ALARMS.items():
        names = [name for name, metrics in watched.items() if key in metrics]
        if not names:
            problems.append(f"alarms: nothing watches {what} ({key[1]})")
        elif rolls_back and not rollback.intersection(names):
            problems.append(f"function: no rollback alarm on {what}")
    for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        for namespace, metric, _, dimensions in alarm_watches(alarm):
            if namespace == APP_NAMESPACE and metric != API_429_METRIC:
                if dimensions != canonical([{"Name": "service", "Value": SERVICE}]):
                    problems.append(f"alarm {name}: {metric} is published by service={SERVICE}")
    lambda_errors = [
        name
        for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items()
        if any(w[:2] == ("AWS/Lambda", "Errors") and FUNCTION in w[3] for w in alarm_watches(alarm))
    ]
    if len(lambda_errors) > 1:
        problems.append(f"alarms: {lambda_errors} page twice for the same function errors")
    filters = [
        props(f)
        for f in resources(template, "AWS::Logs::MetricFilter").values()
        if any(
            t.get("MetricName") == API_429_METRIC for t in props(f).get("MetricTransformations", [])
        )
    ]
    access_log = {"Ref": "ApiAccessLogGroup"}
    if not any(
        f.get("LogGroupName") == access_log and '"429"' in f.get("FilterPattern", "")
        for f in filters
    ):
        problems.append(f"no metric filter counts 429s of the access log as {API_429_METRIC}")
    return problems


def _queue_of(value: Any) -> str | None:
    """The logical id of ``!GetAtt QUEUE.Arn``."""
    if isinstance(value, dict) and value.get("Fn::GetAtt", [None, None])[1:] == ["Arn"]:
        name: str = value["Fn::GetAtt"][0]
        return name
    return None


def _depth_alarmed(template: Template, queue: str) -> bool:
    dimension = canonical([{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}])
    return any(
        (namespace, metric, dims) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible", dimension)
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
        for namespace, metric, _, dims in alarm_watches(alarm)
    )


def check_failures_not_silent(template: Template) -> list[str]:
    """Failed upload events and drill invocations land in a queue someone is paged about,
    a drill that stops running pages, and failed backup and copy jobs page."""
    problems: list[str] = []
    function = props(resources(template).get(FUNCTION, {}))
    invoke = function.get("EventInvokeConfig", {})
    retries = invoke.get("MaximumRetryAttempts")
    if not isinstance(retries, int) or not 0 <= retries <= 2:
        problems.append("function: EventInvokeConfig needs MaximumRetryAttempts (0-2)")
    if not isinstance(invoke.get("MaximumEventAgeInSeconds"), int):
        problems.append("function: EventInvokeConfig needs MaximumEventAgeInSeconds")
    on_failure = invoke.get("DestinationConfig", {}).get("OnFailure", {})
    queue = _queue_of(on_failure.get("Destination"))
    if on_failure.get("Type") != "SQS" or queue is None:
        problems.append("function: failed S3 events need an SQS on-failure destination")
    else:
        if resources(template).get(queue, {}).get("Type") != "AWS::SQS::Queue":
            problems.append(f"function: on-failure destination {queue} is not a queue")
        sends = [
            statement
            for policy in props(resources(template).get(FUNCTION_ROLE, {})).get("Policies", [])
            for statement in policy["PolicyDocument"]["Statement"]
            if "sqs:SendMessage" in as_list(statement.get("Action"))
        ]
        if not any(s.get("Resource") == {"Fn::GetAtt": [queue, "Arn"]} for s in sends):
            problems.append(f"{FUNCTION_ROLE}: may not send to {queue} (Lambda uses this role)")
        if not _depth_alarmed(template, queue):
            problems.append(f"alarms: nothing watches the depth of {queue}")
    for name, rule in resources(template, "AWS::Events::Rule").items():
        for target in props(rule).get("Targets", []):
            if target.get("Arn") != {"Fn::GetAtt": [DRILL, "Arn"]}:
                continue
            dead = _queue_of(target.get("DeadLetterConfig", {}).get("Arn"))
            if dead is None or "RetryPolicy" not in target:
                problems.append(f"{name}: the drill target needs a RetryPolicy and a DLQ")
            elif not _depth_alarmed(template, dead):
                problems.append(f"alarms: nothing watches the depth of {dead}")
            elif not any(
                props(p).get("Queues") == [{"Ref": dead}]
                and '"events.amazonaws.com"' in canonical(props(p))
                and {"Fn::GetAtt": [name, "Arn"]} in walk(props(p))
                for p in resources(template, "AWS::SQS::QueuePolicy").values()
            ):
                problems.append(f"{dead}: EventBridge may not send this rule's dead letters")
    if not any(
        props(alarm).get("TreatMissingData") == "breaching"
        and {"Name": "FunctionName", "Value": {"Ref": DRILL}} in props(alarm).get("Dimensions", [])
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
    ):
        problems.append("alarms: a drill that stops running must page (missing data breaching)")
    problems += _backup_failures_page(template)
    return problems


def _backup_failures_page(template: Template) -> list[str]:
    problems = []
    for name, vault in resources(template, "AWS::Backup::BackupVault").items():
        notifications = props(vault).get("Notifications", {})
        events = set(notifications.get("BackupVaultEvents", []))
        if notifications.get("SNSTopicArn") != ALARM_TOPIC or "COPY_JOB_FAILED" not in events:
            problems.append(f"{name}: failed copy jobs must notify the alarm topic")
        if events & {"BACKUP_JOB_COMPLETED", "BACKUP_JOB_STARTED", "COPY_JOB_SUCCESSFUL"}:
            problems.append(f"{name}: successes would page every hour")
        if not any(
            pattern.get("source") == ["aws.backup"]
            and "FAILED" in pattern.get("detail", {}).get("state", [])
            and {"Ref": name} in pattern.get("detail", {}).get("backupVaultName", [])
            and "Backup Job State Change" in pattern.get("detail-type", [])
            and any(t.get("Arn") == ALARM_TOPIC for t in props(rule).get("Targets", []))
            for rule in resources(template, "AWS::Events::Rule").values()
            for pattern in [props(rule).get("EventPattern", {})]
        ):
            problems.append(f"{name}: failed backup jobs must reach the alarm topic")
    return problems


def check_safe_rollouts(template: Template) -> list[str]:
    """A pre-traffic hook runs the smoke checks against exactly the new version, may do
    nothing else, and staging and production cannot go without its test user."""
    problems: list[str] = []
    preference = props(resources(template).get(FUNCTION, {})).get("DeploymentPreference", {})
    hook = preference.get("Hooks", {}).get("PreTraffic", {})
    name = hook.get("Ref") if isinstance(hook, dict) else None
    function = resources(template).get(str(name), {})
    p = props(function)
    if function.get("Type") != "AWS::Serverless::Function" or p.get("Handler") != HOOK_HANDLER:
        return [f"function: no PreTraffic hook running {HOOK_HANDLER}"]
    if not str(sub_text(p.get("FunctionName")) or "").startswith("CodeDeployHook_"):
        problems.append(f"{name}: CodeDeploy may invoke only functions named CodeDeployHook_*")
    version = {"Ref": f"{FUNCTION}.Version"}
    if p.get("Environment", {}).get("Variables", {}).get("PRE_TRAFFIC_TARGET") != version:
        problems.append(f"{name}: PRE_TRAFFIC_TARGET must be the version being deployed")
    role = (p.get("Role") or {}).get("Fn::GetAtt", [None])[0]
    invokes = [
        statement.get("Resource")
        for policy in props(resources(template).get(str(role), {})).get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
        if "lambda:InvokeFunction" in as_list(statement.get("Action"))
    ]
    if invokes != [version]:
        problems.append(f"{name}: its role must invoke the new version and nothing else")
    if p.get("DeploymentPreference", {}).get("Enabled") is not False:
        problems.append(f"{name}: the hook itself must not be deployed gradually")
    makefile = INFRA_DIR / str(p.get("CodeUri", "")) / "Makefile"
    text = makefile.read_text(encoding="utf-8") if makefile.is_file() else ""
    if f"build-{name}:" not in text:
        problems.append(f"{makefile}: no build-{name} target for sam build")
    problems += _required_on(
        template, "SmokeUserSecretArn", SMOKE_SECRET, {PRODUCTION, "staging"}, ("dev",)
    )
    return problems


def check_files_survive_a_region(template: Template) -> list[str]:
    """With FilesReplicaBucket, every file's bytes replicate to it within 15 minutes, by a
    role that can do that and no more, and a failing or late replication pages."""
    problems: list[str] = []
    bucket = props(resources(template).get("FilesBucket", {}))
    replication = bucket.get("ReplicationConfiguration", {}).get("Fn::If", [None, {}, None])
    condition, config = replication[0], replication[1]
    if condition != "ReplicateFiles" or not isinstance(config, dict):
        return ["FilesBucket: replication must follow the FilesReplicaBucket parameter"]
    rules = config.get("Rules", [])
    prefix = blob_key_for("0123abcd").split("/")[0] + "/"
    if not any(
        rule.get("Status") == "Enabled"
        and rule.get("Filter", {}).get("Prefix") in ("", prefix)
        and rule.get("Destination", {}).get("ReplicationTime", {}).get("Status") == "Enabled"
        and sub_text(rule.get("Destination", {}).get("Bucket")) == REPLICA_ARN
        for rule in rules
    ):
        problems.append("FilesBucket: no rule replicates files/ to the replica with RTC")
    role_name = (config.get("Role") or {}).get("Fn::GetAtt", [None])[0]
    role = resources(template).get(str(role_name), {})
    if role.get("Condition") != "ReplicateFiles":
        problems.append("replication role: must exist only with FilesReplicaBucket")
    written = {
        str(action)
        for policy in props(role).get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
        if sub_text(statement.get("Resource")) == f"{REPLICA_ARN}/files/*"
        for action in as_list(statement.get("Action"))
    }
    if written != {"s3:ReplicateObject", "s3:ReplicateTags"}:
        problems.append(f"replication role: writes {sorted(written)} to the replica")
    watched = {metric for alarm in _alarm_metrics(template).values() for _, metric in alarm}
    if "OperationsFailedReplication" not in watched:
        problems.append("alarms: nothing watches failed replication")
    return problems


def check_logs_to_search_stack(template: Template) -> list[str]:
    """With LogsFirehoseArn (off by default), the function's and the API's logs go to that
    Firehose stream, by a role that may put records there and nowhere else."""
    problems: list[str] = []
    spec = template.get("Parameters", {}).get("LogsFirehoseArn", {})
    if spec.get("Default") != "":
        problems.append("LogsFirehoseArn: shipping logs must be off by default")
    shipping = template.get("Conditions", {}).get("ShipLogs")
    if shipping != {"Fn::Not": [{"Fn::Equals": [{"Ref": "LogsFirehoseArn"}, ""]}]}:
        problems.append("ShipLogs: must mean LogsFirehoseArn is set")
    filters = resources(template, "AWS::Logs::SubscriptionFilter").values()
    shipped = {
        props(f).get("LogGroupName", {}).get("Ref")
        for f in filters
        if props(f).get("DestinationArn") == {"Ref": "LogsFirehoseArn"}
        and f.get("Condition") == "ShipLogs"
        and props(f).get("FilterPattern") == ""
    }
    for group in ("FunctionLogGroup", "ApiAccessLogGroup"):
        if group not in shipped:
            problems.append(f"{group}: not shipped to LogsFirehoseArn (only with ShipLogs)")
    roles = {(props(f).get("RoleArn") or {}).get("Fn::GetAtt", [None])[0] for f in filters}
    for name in roles:
        role = resources(template).get(str(name), {})
        statements = [
            statement
            for policy in props(role).get("Policies", [])
            for statement in policy["PolicyDocument"]["Statement"]
        ]
        if role.get("Condition") != "ShipLogs" or any(
            sub_text(s.get("Resource")) != "${LogsFirehoseArn}"
            or set(as_list(s.get("Action"))) - {"firehose:PutRecord", "firehose:PutRecordBatch"}
            for s in statements
        ):
            problems.append(f"{name}: may only put records into LogsFirehoseArn, with ShipLogs")
    return problems
