"""A file's metadata and bytes survive a restart of the real server process, on both
backends: local (SQLite file + blob folder in DEMOBACKEND_DATA_DIR) and aws (DynamoDB, S3
and Cognito on the test process's moto server, which outlives the server process)."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from tests.support.aws_server import provision_aws_stack
from tests.support.file_client import FileClient, dev_idp_token
from tests.support.server_process import RunningServer, running_server

pytestmark = pytest.mark.slow
CONTENT = "a report that must outlive the server, ünïcode included\n".encode() * 50
KEPT = ("id", "name", "status", "size", "sha256", "version", "description", "tags")

# (server factory over a data dir, token for alice given the running server)
Backend = tuple[
    Callable[[Path], AbstractContextManager[RunningServer]], Callable[[RunningServer], str]
]


@contextmanager
def _local() -> Iterator[Backend]:
    yield (
        (lambda data: running_server(data)),
        (lambda server: dev_idp_token(server.base_url, "alice")),
    )


@contextmanager
def _aws() -> Iterator[Backend]:
    stack = provision_aws_stack("restart")
    yield (
        (lambda data: running_server(data, **stack.env)),
        (lambda _server: stack.token_for("alice")),
    )


@pytest.mark.parametrize("backend", [_local, _aws], ids=["local", "aws"])
def test_a_files_metadata_and_bytes_survive_a_restart(
    tmp_path: Path, backend: Callable[[], AbstractContextManager[Backend]]
) -> None:
    data_dir = tmp_path / "data"
    with backend() as (serve, token_for):
        with (
            serve(data_dir) as server,
            FileClient.over_http(server.base_url, token_for(server)) as files,
        ):
            ready = files.upload(
                "report.txt", "text/plain", CONTENT, description="Q3", tags=["tax"]
            )
        with (
            serve(data_dir) as server,
            FileClient.over_http(server.base_url, token_for(server)) as files,
        ):
            [listed] = files.my_files()
            assert listed["id"] == ready["id"]
            again = files.file(ready["id"])
            assert again is not None
            assert {k: again[k] for k in KEPT} == {k: ready[k] for k in KEPT}
            assert (again["description"], again["tags"]) == ("Q3", ["tax"])
            assert files.download(again["downloadUrl"]).content == CONTENT
