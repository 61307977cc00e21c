"""Production's code path end to end: the Lambda handler configured for BACKEND=aws and
AUTH_MODE=cognito, against DynamoDB, S3 and Cognito served by moto over HTTP on 127.0.0.1,
answering API Gateway HTTP API v2 events that carry moto-issued Cognito tokens."""

import pytest

from tests.support.apigw_events import LambdaContext, http_api_event, response_json
from tests.support.aws_path import AwsPath
from tests.support.moto_server import cognito_client, dynamodb_client

pytestmark = pytest.mark.slow


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
