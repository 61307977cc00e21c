"""Shared fixtures for the Lambda handler on production's code path: BACKEND=aws and
AUTH_MODE=cognito against DynamoDB, S3 and Cognito served by moto over HTTP on 127.0.0.1."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from api.lambda_handler import LambdaHandler, build_handler
from api.settings import load_settings
from ops.emulated_aws import CognitoTokens, EmulatedStack, provision, sign_in
from tests.apigw_events import LambdaContext, http_api_event, response_json
from tests.moto_server import (
    REGION,
    cognito_client,
    dynamodb_client,
    s3_client,
    shared_moto_server,
    unique_name,
)

PASSWORD = "correct-horse-battery-staple"


@dataclass
class AwsPath:
    stack: EmulatedStack
    endpoint: str
    handler: LambdaHandler

    def ask(
        self, query: str, token: str | None = None, variables: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = dict(variables)
        event = http_api_event("POST", "/graphql", body=body, headers=headers)
        response = self.handler(event, LambdaContext())
        assert response["statusCode"] == 200
        answer: dict[str, Any] = response_json(response)
        return answer

    def tokens(self, username: str, *, client_id: str | None = None, **kw: Any) -> CognitoTokens:
        return sign_in(
            cognito_client(self.endpoint),
            pool_id=self.stack.user_pool_id,
            client_id=client_id or self.stack.client_id,
            username=username,
            password=PASSWORD,
            **kw,
        )


@pytest.fixture
def aws_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsPath]:
    endpoint = shared_moto_server()
    stack = provision(
        dynamodb=dynamodb_client(endpoint),
        s3=s3_client(endpoint),
        cognito=cognito_client(endpoint),
        name=unique_name("e2e"),
        region=REGION,
    )
    # boto3 inside the app reads credentials the usual way; these are valid nowhere.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    for name, value in stack.settings_env(endpoint, REGION).items():
        monkeypatch.setenv(name, value)
    yield AwsPath(stack, endpoint, build_handler(load_settings()))
