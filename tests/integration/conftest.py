"""The real `demobackend serve` process on 127.0.0.1, once per test module and backend:
local (SQLite + blob folder + the dev identity provider) and aws (DynamoDB, S3 and
Cognito in moto's server). Every test signs in its own users."""

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ops.emulated_aws import provision, sign_in
from tests.support.file_client import FileClient, dev_idp_token
from tests.support.moto_server import (
    REGION,
    cognito_client,
    dynamodb_client,
    s3_client,
    shared_moto_server,
    unique_name,
)
from tests.support.server_process import running_server

MAX_UPLOAD_BYTES = 1024 * 1024
PASSWORD = "correct-horse-battery-staple"


@dataclass
class Served:
    backend: str
    base_url: str
    token_for: Callable[[str], str]

    def files_of(self, prefix: str) -> FileClient:
        """A FileClient signed in as a new user named after ``prefix``."""
        username = f"{prefix}-{uuid.uuid4().hex[:8]}"
        return FileClient.over_http(self.base_url, self.token_for(username))


# One server serves a whole module, all of it from 127.0.0.1: the per-IP limit on share
# links (/s/) would otherwise throttle one test by what the tests before it followed.
# tests/integration/test_share_links.py starts a server of its own to test that limit.
SERVER_ENV = {
    "DEMOBACKEND_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
    "DEMOBACKEND_SHARE_LINK_BURST": "10000",
}


@pytest.fixture(scope="module")
def local_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("local-backend")
    with running_server(data_dir, **SERVER_ENV) as server:
        yield Served("local", server.base_url, lambda name: dev_idp_token(server.base_url, name))


@pytest.fixture(scope="module")
def aws_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    endpoint = shared_moto_server()
    stack = provision(
        dynamodb=dynamodb_client(endpoint),
        s3=s3_client(endpoint),
        cognito=cognito_client(endpoint),
        name=unique_name("itest"),
        region=REGION,
    )
    env = {
        **stack.settings_env(endpoint, REGION),
        **SERVER_ENV,
        # boto3 in the server process: credentials valid nowhere, no config files read.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }

    def cognito_token(username: str) -> str:
        return sign_in(
            cognito_client(endpoint),
            pool_id=stack.user_pool_id,
            client_id=stack.client_id,
            username=username,
            password=PASSWORD,
        ).id_token

    data_dir = Path(tmp_path_factory.mktemp("aws-backend"))
    with running_server(data_dir, **env) as server:
        yield Served("aws", server.base_url, cognito_token)


@pytest.fixture(scope="module", params=["local", "aws"])
def served(request: pytest.FixtureRequest) -> Served:
    server: Served = request.getfixturevalue(f"{request.param}_served")
    return server
