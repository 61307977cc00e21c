"""Checks on subscriptions' AWS half: the WebSocket API's routes, the connections table's
keys and TTL, and the stream consumer's failure handling (per-record failures, a
dead-letter queue someone is paged about)."""

from __future__ import annotations

import dataclasses
import importlib

from api.realtime_aws.runtime import CONNECTION_TTL_SECONDS
from api.settings import ENV_PREFIX, Settings
from tests.infra.cfn import Template, as_list, props, resources
from tests.infra.checks_ops import _depth_alarmed, _queue_of

SOCKET_FUNCTION = "RealtimeSocketFunction"
STREAM_FUNCTION = "RealtimeStreamFunction"
REALTIME_TABLE = "RealtimeTable"
ROUTES = frozenset({"$connect", "$disconnect", "$default"})
HANDLERS = {
    SOCKET_FUNCTION: "api.realtime_aws.handler.websocket_handler",
    STREAM_FUNCTION: "api.realtime_aws.handler.stream_handler",
}
SETTINGS = ("realtime_table_name", "realtime_endpoint_url")


def check_realtime(template: Template) -> list[str]:
    problems = _routes(template) + _table(template) + _stream(template)
    for name, handler in HANDLERS.items():
        p = props(resources(template).get(name, {}))
        if p.get("Handler") != handler:
            problems.append(f"{name}: handler must be {handler}")
        module, _, attribute = handler.rpartition(".")
        if not callable(getattr(importlib.import_module(module), attribute, None)):
            problems.append(f"{name}: {handler} does not exist")
        variables = p.get("Environment", {}).get("Variables", {})
        for setting in SETTINGS:
            if setting not in {spec.name for spec in dataclasses.fields(Settings)}:
                problems.append(f"settings: {setting} is gone")
            if f"{ENV_PREFIX}{setting.upper()}" not in variables:
                problems.append(f"{name}: {ENV_PREFIX}{setting.upper()} is not set")
    return problems


def _routes(template: Template) -> list[str]:
    problems: list[str] = []
    socket_integrations = {
        name
        for name, res in resources(template, "AWS::ApiGatewayV2::Integration").items()
        if f"${{{SOCKET_FUNCTION}.Arn}}" in str(props(res).get("IntegrationUri"))
    }
    apis = resources(template, "AWS::ApiGatewayV2::Api")
    if not any(props(api).get("ProtocolType") == "WEBSOCKET" for api in apis.values()):
        problems.append("realtime: no WebSocket API")
    routed = {
        props(route).get("RouteKey")
        for route in resources(template, "AWS::ApiGatewayV2::Route").values()
        if any(
            f"integrations/${{{name}}}" in str(props(route).get("Target"))
            for name in socket_integrations
        )
    }
    for key in sorted(ROUTES - routed):
        problems.append(f"realtime: route {key} does not reach {SOCKET_FUNCTION}")
    return problems


def _table(template: Template) -> list[str]:
    """domain/realtime.py's layout: pk/sk, the routing keys in gsi1, every item expiring."""
    p = props(resources(template).get(REALTIME_TABLE, {}))
    problems: list[str] = []
    keys = [(k["AttributeName"], k["KeyType"]) for k in p.get("KeySchema", [])]
    if keys != [("pk", "HASH"), ("sk", "RANGE")]:
        problems.append(f"{REALTIME_TABLE}: keys must be pk/sk, not {keys}")
    indexes = {
        index["IndexName"]: [(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]]
        for index in p.get("GlobalSecondaryIndexes", [])
    }
    if indexes.get("gsi1") != [("gsi1pk", "HASH"), ("gsi1sk", "RANGE")]:
        problems.append(f"{REALTIME_TABLE}: subscribers are found by Query on gsi1 (gsi1pk/gsi1sk)")
    ttl = p.get("TimeToLiveSpecification", {})
    if ttl != {"AttributeName": "expires_at", "Enabled": True}:
        problems.append(f"{REALTIME_TABLE}: items must expire (TTL on expires_at)")
    if CONNECTION_TTL_SECONDS > 2 * 3600:
        problems.append("realtime: connections outlive API Gateway's 2-hour sockets")
    return problems


def _stream(template: Template) -> list[str]:
    function = props(resources(template).get(STREAM_FUNCTION, {}))
    streams = [
        event.get("Properties", {})
        for event in function.get("Events", {}).values()
        if event.get("Type") == "DynamoDB"
    ]
    if [s.get("Stream") for s in streams] != [{"Fn::GetAtt": ["Table", "StreamArn"]}]:
        return [f"{STREAM_FUNCTION}: must read the items table's stream"]
    stream = streams[0]
    problems: list[str] = []
    if "ReportBatchItemFailures" not in as_list(stream.get("FunctionResponseTypes", [])):
        problems.append(f"{STREAM_FUNCTION}: failed records must be reported one by one")
    retries = stream.get("MaximumRetryAttempts")
    if not isinstance(retries, int) or retries < 0:
        problems.append(f"{STREAM_FUNCTION}: bounded retries (MaximumRetryAttempts) needed")
    queue = _queue_of(stream.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"))
    if queue is None:
        problems.append(f"{STREAM_FUNCTION}: batches given up on need an SQS destination")
    elif not _depth_alarmed(template, queue):
        problems.append(f"alarms: nothing watches the depth of {queue}")
    return problems
