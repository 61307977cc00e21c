from collections.abc import Iterator

import pytest

from api.lambda_handler import build_handler
from api.settings import load_settings
from ops.emulated_aws import provision
from tests.support.aws_path import AwsPath
from tests.support.moto_server import (
    REGION,
    cognito_client,
    dynamodb_client,
    s3_client,
    shared_moto_server,
    unique_name,
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
