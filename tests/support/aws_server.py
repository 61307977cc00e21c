"""A fresh DynamoDB + S3 + Cognito stack in the test process's moto server, with what a
`demobackend serve` process needs to run on it: its environment and Cognito sign-in."""

import os
from dataclasses import dataclass

from ops.emulated_aws import provision, sign_in
from tests.support.moto_server import (
    REGION,
    cognito_client,
    dynamodb_client,
    s3_client,
    shared_moto_server,
    unique_name,
)

PASSWORD = "correct-horse-battery-staple"


@dataclass(frozen=True)
class AwsStack:
    endpoint: str
    user_pool_id: str
    client_id: str
    env: dict[str, str]  # DEMOBACKEND_* settings and boto3's credentials for the server

    def token_for(self, username: str) -> str:
        """An ID token of ``username``, created in the pool on first use."""
        return sign_in(
            cognito_client(self.endpoint),
            pool_id=self.user_pool_id,
            client_id=self.client_id,
            username=username,
            password=PASSWORD,
        ).id_token


def provision_aws_stack(name: str) -> AwsStack:
    endpoint = shared_moto_server()
    stack = provision(
        dynamodb=dynamodb_client(endpoint),
        s3=s3_client(endpoint),
        cognito=cognito_client(endpoint),
        name=unique_name(name),
        region=REGION,
    )
    env = {
        **stack.settings_env(endpoint, REGION),
        # boto3 in the server process: credentials valid nowhere, no config files read.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    return AwsStack(endpoint, stack.user_pool_id, stack.client_id, env)
