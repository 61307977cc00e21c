"""Large data exports build in the background of the real server process, on both backends
(local: SQLite + blob folder; aws: DynamoDB, S3 and Cognito in moto's server): exportMyData
answers BUILDING at once, dataExport(id) is polled to READY, the archive holds the files,
another user's id is NOT_FOUND, and a build a stopped server left behind is resumed."""

import hashlib
import io
import json
import os
import tarfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_server import provision_aws_stack
from tests.support.file_client import FileClient, dev_idp_token, error_codes
from tests.support.server_process import RunningServer, running_server

pytestmark = pytest.mark.slow

EXPORT = "mutation { exportMyData { id status url expiresAt } }"
STATUS = "query($id: ID!) { dataExport(id: $id) { id status url expiresAt } }"
# Anything above 64 KiB is built in the background.
ENV = {"DEMOBACKEND_EXPORT_INLINE_MAX_BYTES": str(64 * 1024)}
BIG = os.urandom(300 * 1024)
POLLS, POLL_SECONDS = 300, 0.1

Serve = Callable[..., AbstractContextManager[RunningServer]]
Backend = tuple[Serve, Callable[[RunningServer, str], str]]


@contextmanager
def _local() -> Iterator[Backend]:
    yield (
        (lambda data, **env: running_server(data, **ENV, **env)),
        (lambda server, name: dev_idp_token(server.base_url, name)),
    )


@contextmanager
def _aws() -> Iterator[Backend]:
    stack = provision_aws_stack("exports")
    yield (
        (lambda data, **env: running_server(data, **stack.env, **ENV, **env)),
        (lambda _server, name: stack.token_for(name)),
    )


@pytest.fixture(params=[_local, _aws], ids=["local", "aws"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    with request.param() as pair:
        yield pair


def poll_until_settled(files: FileClient, export_id: str) -> dict[str, Any]:
    for _ in range(POLLS):
        answer: dict[str, Any] = files.data(STATUS, {"id": export_id})["dataExport"]
        if answer["status"] != "BUILDING":
            return answer
        time.sleep(POLL_SECONDS)
    raise AssertionError("the export was still BUILDING after 30 s")


def archive_of(files: FileClient, url: str) -> dict[str, bytes]:
    response = files.download(url)
    assert response.status_code == 200, response.text
    with tarfile.open(fileobj=io.BytesIO(response.content)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def test_a_large_export_builds_in_the_background_and_is_polled_to_ready(
    tmp_path: Path, backend: Backend
) -> None:
    serve, token_for = backend
    with serve(tmp_path / "data") as server:
        alice = FileClient.over_http(server.base_url, token_for(server, "alice"))
        bob = FileClient.over_http(server.base_url, token_for(server, "bob"))
        with alice, bob:
            alice.upload("notes.txt", "text/plain", b"alice notes")
            alice.upload("big.bin", "application/octet-stream", BIG)

            started = alice.data(EXPORT)["exportMyData"]
            assert (started["status"], started["url"], started["expiresAt"]) == (
                "BUILDING",
                None,
                None,
            )
            # Asking again while it builds returns that same export.
            again = alice.data(EXPORT)["exportMyData"]
            assert again["id"] == started["id"]
            # Another user's export id: NOT_FOUND, and nothing of it.
            peeked = bob.ask(STATUS, {"id": started["id"]})
            assert error_codes(peeked) == ["NOT_FOUND"] and peeked["data"] is None

            ready = poll_until_settled(alice, started["id"])
            assert ready["status"] == "READY" and ready["url"] and ready["expiresAt"]
            entries = archive_of(alice, ready["url"])
            manifest = json.loads(entries.pop("manifest.json"))
            assert sorted(entries.values()) == sorted([b"alice notes", BIG])
            assert {f["name"]: f["sha256"] for f in manifest["files"]} == {
                "notes.txt": hashlib.sha256(b"alice notes").hexdigest(),
                "big.bin": hashlib.sha256(BIG).hexdigest(),
            }
            # Settled, exportMyData hands out the same archive.
            assert alice.data(EXPORT)["exportMyData"]["id"] == started["id"]

            # A small export is still built in the request.
            bob.upload("bob.txt", "text/plain", b"bob's own")
            bobs = bob.data(EXPORT)["exportMyData"]
            assert bobs["status"] == "READY" and bobs["id"] != started["id"]
            assert set(archive_of(bob, bobs["url"]).values()) >= {b"bob's own"}


def test_a_build_left_behind_by_a_stopped_server_is_resumed_by_the_next(
    tmp_path: Path, backend: Backend
) -> None:
    serve, token_for = backend
    data_dir = tmp_path / "data"
    # A slow store keeps the build running when the server is told to stop.
    with serve(data_dir, DEMOBACKEND_TEST_ITEM_STORE_DELAY_MS="300") as server:
        with FileClient.over_http(server.base_url, token_for(server, "carol")) as carol:
            carol.upload("big.bin", "application/octet-stream", BIG)
            started = carol.data(EXPORT)["exportMyData"]
            assert started["status"] == "BUILDING"
    with serve(data_dir) as server:
        with FileClient.over_http(server.base_url, token_for(server, "carol")) as carol:
            ready = poll_until_settled(carol, started["id"])
            assert ready["status"] == "READY", ready
            assert BIG in archive_of(carol, ready["url"]).values()
        assert "data export resumed" in server.output()
