"""`demobackend replay-upload-events`: S3 upload events Lambda gave up on, parked in the
on-failure SQS queue as invocation records, are completed by the same code as the
handler's; production's code path in moto's server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.lambda_handler import StoreEventSummary, is_s3_notification
from ops.upload_events import replay_upload_events
from tests.e2e.test_s3_upload_event import (
    CONTENT,
    _record_for,
    _upload_bytes,
    s3_event,
)
from tests.support.aws_path import AwsPath
from tests.support.file_client import FileClient
from tests.support.moto_server import sqs_client, unique_name

pytestmark = pytest.mark.slow


def replay(queue_url: str) -> subprocess.CompletedProcess[str]:
    """The installed command, in its own process, with the test's DEMOBACKEND_* settings."""
    command = Path(sys.executable).parent / "demobackend"
    return subprocess.run(
        [str(command), "replay-upload-events", "--queue-url", queue_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def invocation_record(event: dict[str, Any]) -> str:
    """What Lambda sends an on-failure destination after the last retry."""
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2026-12-01T03:00:00.000Z",
            "requestContext": {
                "requestId": "e0f4c8a2-0000-4000-8000-000000000001",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:api:live",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "7",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorType": "StoreEventError", "errorMessage": "retry"},
        }
    )


@pytest.fixture
def files(aws_path: AwsPath) -> Iterator[FileClient]:
    with aws_path.file_client("uma") as client:
        yield client


@pytest.fixture
def queue(aws_path: AwsPath) -> str:
    return sqs_client(aws_path.endpoint).create_queue(QueueName=unique_name("dlq"))["QueueUrl"]


def _in_queue(endpoint: str, url: str) -> int:
    attributes = sqs_client(endpoint).get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def test_a_parked_upload_event_is_completed_and_leaves_the_queue(
    aws_path: AwsPath, files: FileClient, queue: str
) -> None:
    created = _upload_bytes(files, CONTENT)
    event = s3_event(_record_for(aws_path, created))
    sqs = sqs_client(aws_path.endpoint)
    sqs.send_message(QueueUrl=queue, MessageBody=invocation_record(event))
    assert files.status(created.file_id) == "PENDING"

    result = replay(queue)

    assert result.returncode == 0, result.stderr
    assert files.status(created.file_id) == "READY"
    assert _in_queue(aws_path.endpoint, queue) == 0
    expected = "messages=1 replayed=1 retry_later=0 unrecognised=0 completed=1 ignored=0"
    assert expected in result.stdout
    # Replaying the same event again (a duplicate delivery) changes nothing.
    sqs.send_message(QueueUrl=queue, MessageBody=invocation_record(event))
    assert replay(queue).returncode == 0
    ready = files.file(created.file_id)
    assert ready is not None and ready["version"] == 2


def test_a_message_that_is_not_an_upload_event_is_left_and_reported(
    aws_path: AwsPath, queue: str
) -> None:
    sqs = sqs_client(aws_path.endpoint)
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"requestPayload": {"x": 1}}))
    sqs.send_message(QueueUrl=queue, MessageBody="not json")

    result = replay(queue)

    assert result.returncode == 1
    assert "unrecognised=2" in result.stdout
    assert _in_queue(aws_path.endpoint, queue) == 2  # not ours to drop


def test_a_record_that_fails_again_stays_for_the_next_replay(
    aws_path: AwsPath, files: FileClient, queue: str
) -> None:
    created = _upload_bytes(files, CONTENT)
    sqs = sqs_client(aws_path.endpoint)
    sqs.send_message(
        QueueUrl=queue, MessageBody=invocation_record(s3_event(_record_for(aws_path, created)))
    )

    async def still_unavailable(records: list[Any]) -> StoreEventSummary:
        return StoreEventSummary(records=len(records), failed=len(records))

    # A loop of its own: asyncio.run would leave none for the handler's next request.
    loop = asyncio.new_event_loop()
    try:
        pending = replay_upload_events(sqs, queue, still_unavailable, is_s3_notification)
        summary = loop.run_until_complete(pending)
    finally:
        loop.close()

    assert (summary.messages, summary.retry_later, summary.replayed) == (1, 1, 0)
    assert _in_queue(aws_path.endpoint, queue) == 1
    assert files.status(created.file_id) == "PENDING"


def test_a_missing_queue_is_one_clear_line(aws_path: AwsPath) -> None:
    result = replay(f"{aws_path.endpoint}/123456789012/no-such-queue")
    assert result.returncode == 1
    err = result.stderr
    assert err.startswith("demobackend: the queue could not be read or written")
    assert "Traceback" not in err and "no-such-queue" not in err
