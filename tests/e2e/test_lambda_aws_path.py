"""Production's code path end to end: the Lambda handler configured for BACKEND=aws and
AUTH_MODE=cognito, against DynamoDB, S3 and Cognito served by moto over HTTP on 127.0.0.1,
answering API Gateway HTTP API v2 events that carry moto-issued Cognito tokens."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from api.lambda_handler import build_handler
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

pytestmark = pytest.mark.slow
PASSWORD = "correct-horse-battery-staple"


@dataclass
class AwsPath:
    stack: EmulatedStack
    endpoint: str
    handler: Any

    def ask(self, query: str, token: str | None = None) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        event = http_api_event("POST", "/graphql", body={"query": query}, headers=headers)
        response = self.handler(event, LambdaContext())
        assert response["statusCode"] == 200
        body: dict[str, Any] = response_json(response)
        return body

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


def test_me_with_a_cognito_id_token(aws_path: AwsPath) -> None:
    # moto's ID tokens carry no `email` claim (real Cognito's do; the verifier's unit
    # tests cover that claim), so only the claims moto issues are asserted here.
    tokens = aws_path.tokens("erin", email="erin@example.com", groups=("admin",))
    answer = aws_path.ask("{ me { username groups } }", tokens.id_token)
    assert answer == {"data": {"me": {"username": "erin", "groups": ["admin"]}}}


def test_me_with_a_cognito_access_token_is_the_same_user(aws_path: AwsPath) -> None:
    tokens = aws_path.tokens("frank")
    by_id = aws_path.ask("{ me { id username } }", tokens.id_token)["data"]["me"]
    by_access = aws_path.ask("{ me { id username } }", tokens.access_token)["data"]["me"]
    assert by_access == by_id
    assert by_id["username"] == "frank"


def test_profile_lives_in_dynamodb(aws_path: AwsPath) -> None:
    tokens = aws_path.tokens("gina")
    aws_path.ask('mutation { updateProfile(displayName: "Gina G") { id } }', tokens.id_token)
    items = dynamodb_client(aws_path.endpoint).scan(TableName=aws_path.stack.table_name)["Items"]
    profiles = [item for item in items if item["sk"]["S"] == "PROFILE"]
    assert [p["display_name"]["S"] for p in profiles] == ["Gina G"]


def test_token_for_another_client_id_is_refused(aws_path: AwsPath) -> None:
    other_client = cognito_client(aws_path.endpoint).create_user_pool_client(
        UserPoolId=aws_path.stack.user_pool_id,
        ClientName="someone-elses-app",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    tokens = aws_path.tokens("hank", client_id=other_client)
    for token in (tokens.id_token, tokens.access_token):
        answer = aws_path.ask("{ me { username } }", token)
        assert answer["data"] is None
        assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_dev_identity_provider_is_absent_in_cognito_mode(aws_path: AwsPath) -> None:
    event = http_api_event("POST", "/auth/token", body={"username": "x", "password": "y"})
    assert aws_path.handler(event, LambdaContext())["statusCode"] == 404
    jwks = http_api_event("GET", "/auth/.well-known/jwks.json")
    assert aws_path.handler(jwks, LambdaContext())["statusCode"] == 404


def test_readiness_reaches_dynamodb_and_s3(aws_path: AwsPath) -> None:
    response = aws_path.handler(http_api_event("GET", "/readyz"), LambdaContext())
    assert response["statusCode"] == 200
    assert response_json(response)["checks"] == {"store": "ok", "blobs": "ok"}
