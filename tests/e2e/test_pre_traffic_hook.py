"""The pre-traffic hook runs the smoke checks against the new version (production's code
path: DynamoDB, S3, Cognito and Secrets Manager in moto's server on 127.0.0.1) and tells
CodeDeploy; only CodeDeploy, which moto cannot stand in for, is a recording fake."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from ops.pre_traffic import FAILED, SUCCEEDED, HookConfig, Invoke, run_hook, smoke_checks
from tests.support.apigw_events import LambdaContext
from tests.support.aws_path import PASSWORD, AwsPath
from tests.support.moto_server import cognito_client, secrets_client, unique_name

pytestmark = pytest.mark.slow

EVENT = {"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "exec-token"}


@dataclass
class CodeDeploy:
    reported: list[dict[str, str]] = field(default_factory=list)

    def put_lifecycle_event_hook_execution_status(self, **status: str) -> None:
        self.reported.append(status)


def _config(aws_path: AwsPath, password: str = PASSWORD) -> HookConfig:
    username = "smoker"
    aws_path.tokens(username)  # creates the confirmed user
    secret = secrets_client(aws_path.endpoint).create_secret(
        Name=unique_name("smoke-user"),
        SecretString=json.dumps({"username": username, "password": password}),
    )
    return HookConfig(
        target="arn:aws:lambda:us-east-1:123456789012:function:api:7",
        user_pool_id=aws_path.stack.user_pool_id,
        client_id=aws_path.stack.client_id,
        secret_id=secret["ARN"],
        region="us-east-1",
    )


def _invoke_version(aws_path: AwsPath) -> Invoke:
    """What lambda:Invoke of the version does: the event and the answer as JSON."""

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        answer = aws_path.handler(json.loads(json.dumps(event)), LambdaContext())
        result: dict[str, Any] = json.loads(json.dumps(answer))
        return result

    return invoke


def _hook(
    aws_path: AwsPath, config: HookConfig, invoke: Invoke
) -> tuple[dict[str, Any], CodeDeploy]:
    codedeploy = CodeDeploy()
    cognito = cognito_client(aws_path.endpoint)
    secrets = secrets_client(aws_path.endpoint)
    checks = smoke_checks(invoke, cognito, secrets, config)
    return run_hook(EVENT, codedeploy=codedeploy, checks=checks), codedeploy


def test_a_healthy_version_lets_traffic_shift(aws_path: AwsPath) -> None:
    seen: list[str] = []
    invoke = _invoke_version(aws_path)

    def recording(event: dict[str, Any]) -> dict[str, Any]:
        seen.append(f"{event['requestContext']['http']['method']} {event['rawPath']}")
        return invoke(event)

    result, codedeploy = _hook(aws_path, _config(aws_path), recording)

    assert result == {"status": SUCCEEDED, "failures": []}
    assert codedeploy.reported == [
        {
            "deploymentId": "d-ABCDEF123",
            "lifecycleEventHookExecutionId": "exec-token",
            "status": SUCCEEDED,
        }
    ]
    assert seen == ["GET /healthz", "POST /graphql", "GET /readyz", "POST /graphql"]


def test_a_version_whose_search_fails_is_rolled_back(aws_path: AwsPath) -> None:
    invoke = _invoke_version(aws_path)

    def broken_search(event: dict[str, Any]) -> dict[str, Any]:
        if "search(" in (event.get("body") or ""):
            return {"statusCode": 500, "body": '{"errors": [{"message": "Internal"}]}'}
        return invoke(event)

    result, codedeploy = _hook(aws_path, _config(aws_path), broken_search)

    assert result["status"] == FAILED
    assert [f.split(":")[0] for f in result["failures"]] == ["search"]
    assert [r["status"] for r in codedeploy.reported] == [FAILED]


def test_a_version_that_crashes_is_rolled_back(aws_path: AwsPath) -> None:
    def crashing(event: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("Runtime.ImportModuleError")

    result, codedeploy = _hook(aws_path, _config(aws_path), crashing)

    assert result == {"status": FAILED, "failures": ["hook crashed: RuntimeError"]}
    assert [r["status"] for r in codedeploy.reported] == [FAILED]


def test_a_test_user_that_cannot_sign_in_fails_without_leaking(aws_path: AwsPath) -> None:
    config = _config(aws_path)
    secrets_client(aws_path.endpoint).put_secret_value(
        SecretId=config.secret_id,
        SecretString=json.dumps({"username": "smoker", "password": "stale password 123"}),
    )

    result, codedeploy = _hook(aws_path, config, _invoke_version(aws_path))

    assert result["status"] == FAILED
    assert result["failures"][0].startswith("sign in: sign-in as smoker failed")
    assert "stale password" not in json.dumps(result)
    assert [r["status"] for r in codedeploy.reported] == [FAILED]


def test_an_unconfigured_hook_still_reports() -> None:
    codedeploy = CodeDeploy()

    def checks() -> list[str]:
        HookConfig.from_env({"AWS_REGION": "eu-west-1"})
        return []

    result = run_hook(EVENT, codedeploy=codedeploy, checks=checks)

    assert result["status"] == FAILED
    assert "PRE_TRAFFIC_TARGET" in result["failures"][0]
    assert [r["status"] for r in codedeploy.reported] == [FAILED]


def test_without_a_test_user_only_the_unauthenticated_checks_run(aws_path: AwsPath) -> None:
    """A dev stack (staging and production cannot deploy without one: the Rules)."""
    config = _config(aws_path)
    config = HookConfig(**{**vars(config), "secret_id": ""})
    seen: list[str] = []
    invoke = _invoke_version(aws_path)

    def recording(event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event["rawPath"])
        return invoke(event)

    result, codedeploy = _hook(aws_path, config, recording)

    assert result["status"] == SUCCEEDED
    assert seen == ["/healthz"]
    assert [r["status"] for r in codedeploy.reported] == [SUCCEEDED]
