"""CodeDeploy's pre-traffic hook: the smoke checks against the new function version,
before any traffic shifts to it.

During a deployment the alias ``live`` still points at the old version, so the checks do
not go through API Gateway: each request is an API Gateway (payload 2.0) event handed to
the new version with ``lambda:Invoke``. ops/smoke.py's checks run over that (health, a
signed-in ``me``, readiness, a search; the authorizer check is the HTTPS smoke test's).
The test user's name and password are a Secrets Manager secret,
``{"username": ..., "password": ...}``. The hook always reports Succeeded or Failed to
CodeDeploy; Failed (or a crash of the new version) rolls the deployment back before a
single user request reaches it.

It runs as its own function (PreTrafficHookFunction in infra/template.yaml) with its own
five variables, read once in ``handler``: it is not the API and has none of its settings.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ops.smoke import ATTEMPTS, Response, Send, SmokeFailure, run_checks, sign_in

logger = logging.getLogger(__name__)

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
SUCCEEDED, FAILED = "Succeeded", "Failed"
USER_AGENT = "demobackend-pre-traffic-hook"


@dataclass(frozen=True)
class HookConfig:
    target: str  # the new version's ARN
    user_pool_id: str
    client_id: str
    secret_id: str  # empty on a dev stack: the signed-in checks are skipped
    region: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HookConfig:
        names = {
            "target": "PRE_TRAFFIC_TARGET",
            "user_pool_id": "PRE_TRAFFIC_USER_POOL_ID",
            "client_id": "PRE_TRAFFIC_CLIENT_ID",
            "secret_id": "PRE_TRAFFIC_SECRET_ID",
            "region": "AWS_REGION",
        }
        optional = {"PRE_TRAFFIC_SECRET_ID"}
        missing = [name for name in names.values() if not env.get(name) and name not in optional]
        if missing:
            raise SmokeFailure(f"hook is not configured: {', '.join(missing)} unset")
        return cls(**{field: env.get(name, "") for field, name in names.items()})


def api_event(
    method: str, path: str, body: dict[str, Any] | None, token: str | None
) -> dict[str, Any]:
    """A request as API Gateway's HTTP API hands it to the function (payload 2.0)."""
    headers = {"host": "pre-traffic.invalid", "user-agent": USER_AGENT}
    if body is not None:
        headers["content-type"] = "application/json"
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": USER_AGENT,
            },
            "requestId": "pre-traffic",
            "routeKey": "$default",
            "stage": "$default",
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def over_lambda(invoke: Invoke) -> Send:
    def send(
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        token: str | None = None,
        attempts: int = ATTEMPTS,
    ) -> Response:
        answer = Response(0, b"")
        for _ in range(attempts):
            result = invoke(api_event(method, path, body, token))
            text = result.get("body") or ""
            raw = base64.b64decode(text) if result.get("isBase64Encoded") else text.encode()
            answer = Response(int(result.get("statusCode", 0)), raw)
            if answer.status < 500:
                break
        return answer

    return send


def lambda_invoker(client: Any, function_arn: str) -> Invoke:
    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        answer = client.invoke(FunctionName=function_arn, Payload=json.dumps(event).encode())
        if answer.get("FunctionError"):
            raise SmokeFailure(f"the new version failed the invocation ({answer['FunctionError']})")
        result: dict[str, Any] = json.loads(answer["Payload"].read())
        return result

    return invoke


def test_user(secrets: Any, secret_id: str) -> tuple[str, str]:
    try:
        value = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
        return str(value["username"]), str(value["password"])
    except Exception as error:  # name the kind only: never the secret or its ARN
        kind = type(error).__name__
        raise SmokeFailure(f"the test user's secret is unreadable ({kind})") from None


def run_hook(
    event: Mapping[str, Any],
    *,
    codedeploy: Any,
    checks: Callable[[], list[str]],
) -> dict[str, Any]:
    """Run ``checks``; report the outcome to CodeDeploy whatever happens."""
    try:
        failures = checks()
    except SmokeFailure as failure:
        failures = [str(failure)]
    except Exception as error:  # a hook that never reports leaves the deployment hanging
        logger.exception("pre-traffic hook crashed")
        failures = [f"hook crashed: {type(error).__name__}"]
    status = FAILED if failures else SUCCEEDED
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )
    logger.info("pre-traffic hook: %s %s", status, failures)
    return {"status": status, "failures": failures}


def smoke_checks(
    invoke: Invoke, cognito: Any, secrets: Any, config: HookConfig
) -> Callable[[], list[str]]:
    def checks() -> list[str]:
        if not config.secret_id:
            return run_checks(over_lambda(invoke), None, "", logger.info, through_gateway=False)
        username, password = test_user(secrets, config.secret_id)
        return run_checks(
            over_lambda(invoke),
            lambda: sign_in(cognito, config.user_pool_id, config.client_id, username, password),
            username,
            logger.info,
            through_gateway=False,
        )

    return checks


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    import boto3

    logging.getLogger().setLevel(logging.INFO)
    codedeploy = boto3.client("codedeploy")

    def checks() -> list[str]:
        config = HookConfig.from_env(os.environ)
        session = boto3.session.Session(region_name=config.region)
        invoke = lambda_invoker(session.client("lambda"), config.target)
        cognito, secrets = session.client("cognito-idp"), session.client("secretsmanager")
        return smoke_checks(invoke, cognito, secrets, config)()

    return run_hook(event, codedeploy=codedeploy, checks=checks)
