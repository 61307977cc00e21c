"""The restore drill through the Lambda entry point: the event the EventBridge rule sends
({"demobackend": "drill"}, infra/template.yaml) backs up what users created through the
API, restores it into scratch under /tmp, compares, returns the report and logs it as one
JSON line with CloudWatch EMF metrics; a damaged source fails the invocation (so the
function's Errors alarm fires) and still logs a report.

Files are created as a user would: GraphQL through the handler, the bytes sent to the
upload URL (locally: PUT /blobs/... through the same handler; on the AWS path: a presigned
POST to moto's S3), then completeUpload.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from api import lambda_handler
from api.bootstrap import ITEMS_FILE
from api.lambda_handler import DrillFailedError, is_drill_event
from api.settings import load_settings
from tests.support.apigw_events import LambdaContext, http_api_event, local_id_token, response_json
from tests.support.aws_path import AwsPath
from tests.support.file_client import FileClient, sha256_hex
from tests.support.moto_server import s3_client

DRILL_EVENT = {"demobackend": "drill"}
NOTES = b"drill notes\n" * 40
CONTENTS = {
    "notes.txt": NOTES,
    "photo.bin": bytes(range(256)) * 300,
    "notes-copy.txt": NOTES,  # same bytes, another file: restored as its own blob
}
TOTAL_BYTES = sum(len(content) for content in CONTENTS.values())


class DrillLambdaContext:
    """Lambda's context: the remaining time shrinks as the invocation runs."""

    function_name = LambdaContext.function_name
    invoked_function_arn = LambdaContext.invoked_function_arn

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@pytest.fixture
def lambda_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Lambda's /tmp for this test: where the drill must work and what it must leave clean."""
    root = tmp_path / "lambda-tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.fixture
def local_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lambda_tmp: Path) -> Path:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("DEMOBACKEND_DATA_DIR", str(data_dir))
    monkeypatch.setattr(lambda_handler, "_handler", None)
    return data_dir


def _graphql_through_handler(token: str) -> Any:
    def call(query: str, variables: Mapping[str, Any] | None) -> dict[str, Any]:
        body: dict[str, Any] = {"query": query, "variables": dict(variables or {})}
        event = http_api_event(
            "POST", "/graphql", body=body, headers={"authorization": f"Bearer {token}"}
        )
        response = lambda_handler.handler(event, LambdaContext())
        assert response["statusCode"] == 200, response
        answer: dict[str, Any] = response_json(response)
        return answer

    return call


def _put_through_handler(url: str, headers: Mapping[str, str], content: bytes) -> None:
    """The browser's PUT to a local upload URL, as API Gateway would hand it to Lambda."""
    parts = urlsplit(url)
    event = http_api_event("PUT", parts.path, headers=dict(headers), query=parts.query)
    event["body"] = base64.b64encode(content).decode()
    event["isBase64Encoded"] = True
    response = lambda_handler.handler(event, LambdaContext())
    assert 200 <= response["statusCode"] < 300, response


def _create_files_locally(username: str) -> list[dict[str, Any]]:
    files = FileClient(_graphql_through_handler(local_id_token(username)))
    ready = []
    with files:
        for name, content in CONTENTS.items():
            created = files.create_upload(
                name, "application/octet-stream", len(content), sha256=sha256_hex(content)
            )
            _put_through_handler(created.target.url, created.target.headers, content)
            ready.append(files.complete_upload(created.file_id))
    assert [file["status"] for file in ready] == ["READY"] * len(CONTENTS)
    return ready


def _drill_lines(output: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "drill"]


def test_the_scheduled_event_runs_a_drill_that_restores_every_file(
    local_env: Path, lambda_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _create_files_locally("dora")
    capsys.readouterr()

    report = lambda_handler.handler(dict(DRILL_EVENT), DrillLambdaContext())

    assert report["ok"] is True, report["differences"]
    assert report["differences"] == []
    assert report["items"] > len(CONTENTS)  # files, their owner, search postings ...
    assert report["blobs"] == len(CONTENTS)  # every READY file's bytes
    assert report["bytes"] == TOTAL_BYTES
    assert report["restore_seconds"] > 0
    [line] = _drill_lines(capsys.readouterr().out)
    assert line["drill"]["ok"] is True and line["drill"]["items"] == report["items"]
    assert line["drill"]["lambda_remaining_ms"] == 900_000
    assert line["drill"]["tmp_free_bytes"] > 0
    assert line["DrillOk"] == 1.0
    assert line["DrillRestoreSeconds"] == report["restore_seconds"]
    [directive] = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == load_settings().metrics_namespace
    assert directive["Dimensions"] == [["service"]] and line["service"] == "drill"
    assert {m["Name"] for m in directive["Metrics"]} >= {"DrillOk", "DrillRestoreSeconds"}
    # The scratch backup and restore are gone: /tmp outlives the invocation.
    assert list(lambda_tmp.iterdir()) == []


def test_the_drill_leaves_the_live_data_as_it_was(local_env: Path) -> None:
    ready = _create_files_locally("erin")
    token = local_id_token("erin")
    files = FileClient(_graphql_through_handler(token))

    lambda_handler.handler(dict(DRILL_EVENT), DrillLambdaContext())

    with files:
        after = files.my_files(first=10)
        assert sorted(f["id"] for f in after) == sorted(f["id"] for f in ready)
        for file in ready:
            assert files.status(file["id"]) == "READY"


def test_a_corrupted_source_fails_the_invocation_and_logs_a_failed_drill(
    local_env: Path, lambda_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _create_files_locally("finn")
    _close_handler()
    _corrupt_sqlite(local_env / ITEMS_FILE)
    capsys.readouterr()

    with pytest.raises(DrillFailedError, match="did not finish"):
        lambda_handler.handler(dict(DRILL_EVENT), DrillLambdaContext())

    [line] = _drill_lines(capsys.readouterr().out)
    assert line["DrillOk"] == 0.0
    assert line["drill"]["ok"] is False and line["drill"]["error"]
    assert "DrillRestoreSeconds" not in line
    assert list(lambda_tmp.iterdir()) == []


def test_only_the_marker_starts_a_drill() -> None:
    assert is_drill_event({"demobackend": "drill"})
    assert is_drill_event({"demobackend": "drill", "note": "manual"})
    assert not is_drill_event({"demobackend": "backup"})
    assert not is_drill_event(http_api_event("POST", "/graphql", body={"demobackend": "drill"}))
    s3_notification = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]}
    assert not is_drill_event(s3_notification)
    assert not is_drill_event({"detail-type": "Scheduled Event", "detail": {}})
    assert not is_drill_event(["demobackend", "drill"])


def _close_handler() -> None:
    """Close the container's SQLite connection (as a recycled container would), so that
    what is on disk is all there is."""
    handler = lambda_handler._handler
    assert handler is not None
    lambda_handler._event_loop().run_until_complete(handler.deps.aclose())
    lambda_handler._handler = None


def _corrupt_sqlite(path: Path) -> None:
    """Every page but the first (the schema) overwritten: the store opens, then reading
    its rows fails, as after a disk fault."""
    with sqlite3.connect(path) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    assert len(data) > page_size, "the store should span several pages"
    data[page_size:] = b"\xa5" * (len(data) - page_size)
    path.write_bytes(bytes(data))


# ------------------------------------------------------------------------ AWS path ----


@pytest.fixture
def aws_files(aws_path: AwsPath, lambda_tmp: Path) -> Iterator[FileClient]:
    token = aws_path.tokens("uma").id_token
    with FileClient(lambda query, variables: aws_path.ask(query, token, variables)) as client:
        yield client


@pytest.mark.slow
def test_a_drill_of_dynamodb_and_s3_restores_every_file(
    aws_path: AwsPath, aws_files: FileClient, lambda_tmp: Path
) -> None:
    for name, content in CONTENTS.items():
        aws_files.upload(name, "application/octet-stream", content)

    report = aws_path.handler(dict(DRILL_EVENT), DrillLambdaContext())

    assert report["ok"] is True, report["differences"]
    assert report["blobs"] == len(CONTENTS)
    assert report["bytes"] == TOTAL_BYTES
    assert list(lambda_tmp.iterdir()) == []


@pytest.mark.slow
def test_a_file_whose_bytes_vanished_from_s3_fails_the_drill(
    aws_path: AwsPath, aws_files: FileClient, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = s3_client(aws_path.endpoint)
    bucket = aws_path.stack.bucket

    def keys() -> set[str]:
        listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        return {entry["Key"] for entry in listed}

    aws_files.upload("kept.txt", "text/plain", b"still here\n" * 10)
    kept_keys = keys()
    aws_files.upload("lost.txt", "text/plain", b"soon gone\n" * 10)
    [lost_key] = keys() - kept_keys
    [kept_key] = kept_keys
    s3.delete_object(Bucket=bucket, Key=lost_key)
    capsys.readouterr()

    # A file users can no longer download is a failed drill: the invocation fails.
    with pytest.raises(DrillFailedError, match="difference"):
        aws_path.handler(dict(DRILL_EVENT), DrillLambdaContext())

    [line] = _drill_lines(capsys.readouterr().out)
    said = json.dumps(line["drill"])
    # files/<id>/ready-<random>: a READY file's only object.
    lost_id, kept_id = lost_key.split("/")[1], kept_key.split("/")[1]
    assert lost_key.startswith(f"files/{lost_id}/ready-") and lost_id != kept_id
    assert line["DrillOk"] == 0.0 and line["drill"]["ok"] is False
    assert f"file {lost_id}" in said and "missing" in said, said
    assert kept_id not in said
