"""The real `demobackend serve` process on 127.0.0.1, once per test module and backend:
local (SQLite + blob folder + the dev identity provider) and aws (DynamoDB, S3 and
Cognito in moto's server). Every test signs in its own users."""

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.aws_server import provision_aws_stack
from tests.support.file_client import FileClient, dev_idp_token
from tests.support.server_process import running_server

MAX_UPLOAD_BYTES = 1024 * 1024


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
    stack = provision_aws_stack("itest")
    data_dir = Path(tmp_path_factory.mktemp("aws-backend"))
    with running_server(data_dir, **stack.env, **SERVER_ENV) as server:
        yield Served("aws", server.base_url, stack.token_for)


@pytest.fixture(scope="module", params=["local", "aws"])
def served(request: pytest.FixtureRequest) -> Served:
    server: Served = request.getfixturevalue(f"{request.param}_served")
    return server
