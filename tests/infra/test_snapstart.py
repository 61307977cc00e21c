"""api/snapstart.py: the hooks register only with the Lambda runtime's library, prepare
before the snapshot, and after a restore reseed ``random`` and drop pooled connections
while leaving clients usable."""

import json
import os
import random
import sys
import types
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from api import snapstart
from tests.infra.cfn import REPO_ROOT
from tests.infra.tools import run
from tests.support.moto_server import moto_server


class FakeRuntime:
    """Stands in for the Lambda runtime's snapshot_restore_py: records registrations and
    runs them the way the runtime does (before-snapshot hooks in reverse order)."""

    def __init__(self) -> None:
        self.before: list[tuple[Any, tuple[Any, ...]]] = []
        self.after: list[tuple[Any, tuple[Any, ...]]] = []

    def module(self) -> types.ModuleType:
        module = types.ModuleType("snapshot_restore_py")
        module.register_before_snapshot = lambda f, *a: self.before.append((f, a))  # type: ignore[attr-defined]
        module.register_after_restore = lambda f, *a: self.after.append((f, a))  # type: ignore[attr-defined]
        return module

    def snapshot(self) -> None:
        for function, args in reversed(self.before):
            function(*args)

    def restore(self) -> None:
        for function, args in self.after:
            function(*args)


class Client:
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRuntime]:
    fake = FakeRuntime()
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", fake.module())
    yield fake


def test_without_the_runtime_library_nothing_registers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails
    assert snapstart.runtime_hooks() is None
    assert snapstart.register(prepare=lambda: None, connections=list) is False


def test_the_snapshot_prepares_and_holds_no_connection(runtime: FakeRuntime) -> None:
    prepared: list[str] = []
    client = Client()
    assert snapstart.register(
        prepare=lambda: prepared.append("built"), connections=lambda: [client]
    )
    assert prepared == []  # registering does not prepare: the runtime decides when
    runtime.snapshot()
    assert prepared == ["built"]
    assert client.closed == 1


def test_a_restore_reseeds_random_and_drops_connections(runtime: FakeRuntime) -> None:
    clients = [Client(), Client()]
    snapstart.register(prepare=lambda: None, connections=lambda: clients)
    random.seed(1234)  # the state every restored copy would share
    shared = random.random()
    random.seed(1234)
    runtime.restore()
    assert random.random() != shared
    assert [client.closed for client in clients] == [1, 1]


def test_restored_copies_draw_different_numbers(runtime: FakeRuntime) -> None:
    snapstart.register(prepare=lambda: None, connections=list)
    draws = set()
    for _ in range(3):
        random.seed(99)  # each copy resumes from the same snapshot state
        runtime.restore()
        draws.add(random.random())
    assert len(draws) == 3


def test_a_failing_preparation_fails_the_snapshot(runtime: FakeRuntime) -> None:
    def prepare() -> None:
        raise RuntimeError("settings are invalid")

    snapstart.register(prepare=prepare, connections=list)
    with pytest.raises(RuntimeError, match="settings"):
        runtime.snapshot()


def test_warm_up_sends_a_health_check_through_the_entry_point() -> None:
    seen: list[dict[str, Any]] = []

    def entry(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        return {"statusCode": 200, "body": "{}"}

    snapstart.warm_up(entry)
    assert seen[0]["rawPath"] == "/healthz"
    assert seen[0]["requestContext"]["http"]["method"] == "GET"
    assert seen[0]["version"] == "2.0"


def test_warm_up_refuses_an_unhealthy_function() -> None:
    with pytest.raises(snapstart.WarmUpError, match="503"):
        snapstart.warm_up(lambda event, context: {"statusCode": 503})


@pytest.mark.slow
def test_a_closed_boto3_client_reconnects() -> None:
    with moto_server() as endpoint:
        client: Any = boto3.client(
            "s3",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket="snapstart-reconnect")
        pools = client._endpoint.http_session._manager.pools
        assert len(pools) == 1
        assert snapstart.drop_connections([client]) == 1
        assert len(pools) == 0  # the snapshot's sockets are gone
        names = [b["Name"] for b in client.list_buckets()["Buckets"]]
        assert "snapstart-reconnect" in names


WIRING = """
import json, os, sys, types
before, after = [], []
runtime = types.ModuleType("snapshot_restore_py")
runtime.register_before_snapshot = lambda f, *a: before.append((f, a))
runtime.register_after_restore = lambda f, *a: after.append((f, a))
sys.modules["snapshot_restore_py"] = runtime
from ops.aws_resources import create_bucket, create_table
from tests.support.moto_server import dynamodb_client, moto_server, s3_client
with moto_server() as endpoint:
    create_table(dynamodb_client(endpoint), "snapstart-items")
    create_bucket(s3_client(endpoint), "snapstart-files", "us-east-1")
    os.environ["DEMOBACKEND_AWS_ENDPOINT_URL"] = endpoint
    import api.lambda_handler as entry
    from api.snapstart import http_api_event
    report = {"registered": [len(before), len(after)]}
    report["built_at_import"] = entry._handler is not None
    for function, args in reversed(before):
        function(*args)
    report["built_before_snapshot"] = entry._handler is not None
    report["clients"] = len(list(after[0][1][-1]())) if after else 0
    for function, args in after:
        function(*args)
    answer = entry.handler(http_api_event("GET", "/readyz"), None)
    report["ready_after_restore"] = answer["statusCode"]
print(json.dumps(report))
"""


@pytest.mark.slow
def test_the_lambda_entry_point_wires_the_hooks(tmp_path: Any) -> None:
    """api/lambda_handler.py registers the hooks at import; the snapshot hook builds the
    handler (not the import), the restore hook finds the boto3 clients it made (DynamoDB
    and S3; Cognito's admin API and Lambda's are made on first use, so no snapshot holds
    a connection of theirs), and the restored function still reaches DynamoDB and S3."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "DEMOBACKEND_"))
    } | {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "DEMOBACKEND_BACKEND": "aws",
        "DEMOBACKEND_AUTH_MODE": "cognito",
        "DEMOBACKEND_TABLE_NAME": "snapstart-items",
        "DEMOBACKEND_BUCKET": "snapstart-files",
        "DEMOBACKEND_AWS_REGION": "us-east-1",
        "DEMOBACKEND_COGNITO_USER_POOL_ID": "us-east-1_SnapStart1",
        "DEMOBACKEND_COGNITO_CLIENT_IDS": "snapstartclient",
        "DEMOBACKEND_CURSOR_SECRET": "0123456789abcdef" * 4,
    }
    result = run([sys.executable, "-c", WIRING], env=env, cwd=REPO_ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["registered"] == [1, 1], "api/lambda_handler.py must call snapstart.register"
    assert report == {
        "registered": [1, 1],
        "built_at_import": False,
        "built_before_snapshot": True,
        "clients": 2,
        "ready_after_restore": 200,
    }
