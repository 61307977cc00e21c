"""S3 ObjectCreated notifications complete uploads: the Lambda handler on production's code
path (DynamoDB, S3, Cognito in moto's server on 127.0.0.1), the bytes POSTed to S3 with
httpx as a browser would, then the notification S3 would send fed to the same handler."""

import hashlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from api import lambda_handler
from api.lambda_handler import StoreEventError
from domain.errors import StoreUnavailableError
from domain.models import FileRecord
from tests.support.apigw_events import LambdaContext, http_api_event, response_json
from tests.support.aws_path import AwsPath
from tests.support.file_client import CreatedUpload, FileClient, error_codes, sha256_hex
from tests.support.moto_server import REGION, s3_client

pytestmark = pytest.mark.slow

CONTENT = "Grüße aus dem Bucket — ObjectCreated\n".encode() * 64


def s3_record(
    bucket: str,
    key: str,
    *,
    event_name: str = "ObjectCreated:Post",
    size: int = 0,
    etag: str = "0123456789abcdef0123456789abcdef",
    encode: bool = True,
) -> dict[str, Any]:
    """One record of an S3 event notification, shaped as S3 sends it to Lambda: the key
    URL-encoded the way S3 does it ('+' for a space, '/' kept)."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": "2026-11-28T12:00:00.000Z",
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.10"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "complete-uploads",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": {
                "key": quote_plus(key, safe="/") if encode else key,
                "size": size,
                "eTag": etag,
                "sequencer": "0055AED6DCD90281E5",
            },
        },
    }


def s3_event(*records: Any) -> dict[str, Any]:
    return {"Records": list(records)}


@pytest.fixture
def files(aws_path: AwsPath) -> Iterator[FileClient]:
    with aws_path.file_client("uma") as client:
        yield client


def _upload_bytes(
    files: FileClient, content: bytes, *, name: str = "greeting.txt"
) -> CreatedUpload:
    """createUpload (SHA-256 declared) and the bytes POSTed to S3; not completed."""
    created = files.create_upload(name, "text/plain", len(content), sha256=sha256_hex(content))
    _send(files, created, content)
    return created


def _send(files: FileClient, created: CreatedUpload, content: bytes) -> None:
    assert created.target.method == "POST"
    sent = files.send_bytes(created.target, content, filename=created.file["name"])
    assert sent.status_code == 204, (sent.status_code, sent.text)


def _key_of(created: CreatedUpload) -> str:
    # The object key is the server's (derived from the file's id, never its name); the
    # presigned POST names it in its "key" field.
    key = created.target.fields["key"]
    assert key.startswith("files/") and created.file["name"] not in key
    return key


def _record_for(aws_path: AwsPath, created: CreatedUpload, **kw: Any) -> dict[str, Any]:
    """The record S3 sends for the stored object (its real size and ETag)."""
    bucket = aws_path.stack.bucket
    key = _key_of(created)
    head = s3_client(aws_path.endpoint).head_object(Bucket=bucket, Key=key)
    return s3_record(bucket, key, size=head["ContentLength"], etag=head["ETag"].strip('"'), **kw)


def test_object_created_event_makes_the_upload_ready(aws_path: AwsPath, files: FileClient) -> None:
    created = _upload_bytes(files, CONTENT)
    file_id = created.file_id
    assert files.status(file_id) == "PENDING"

    summary = aws_path.handler(s3_event(_record_for(aws_path, created)), LambdaContext())

    assert summary == {"records": 1, "completed": 1, "ignored": 0, "failed": 0}
    ready = files.file(file_id)
    assert ready is not None
    assert (ready["status"], ready["size"], ready["version"]) == ("READY", len(CONTENT), 2)
    assert ready["sha256"] == hashlib.sha256(CONTENT).hexdigest()
    assert files.download(ready["downloadUrl"]).content == CONTENT
    assert [f["id"] for f in files.my_files() if f["status"] == "READY"] == [file_id]
    # The client's own completeUpload, arriving after the event, is a no-op.
    assert files.complete_upload(file_id)["version"] == 2


def test_a_second_event_for_the_upload_key_leaves_the_ready_file_as_it_was(
    aws_path: AwsPath, files: FileClient
) -> None:
    # No sha256 declared: the event's completion records whatever it verified.
    created = files.create_upload("greeting.txt", "text/plain", len(CONTENT))
    _send(files, created, CONTENT)
    assert aws_path.handler(s3_event(_record_for(aws_path, created)), LambdaContext()) == {
        "records": 1,
        "completed": 1,
        "ignored": 0,
        "failed": 0,
    }
    ready = files.file(created.file_id)
    assert ready is not None and ready["status"] == "READY"

    # The form replayed while its policy is still valid (S3 takes it), and the
    # notification S3 sends for it.
    swapped = CONTENT.upper()
    assert len(swapped) == len(CONTENT) and swapped != CONTENT
    _send(files, created, swapped)
    again = aws_path.handler(s3_event(_record_for(aws_path, created)), LambdaContext())

    assert again["failed"] == 0
    after = files.file(created.file_id)
    assert after is not None
    assert files.download(after["downloadUrl"]).content == CONTENT
    assert (after["version"], after["sha256"]) == (ready["version"], ready["sha256"])
    assert after["sha256"] == sha256_hex(CONTENT)
    # The replayed bytes are removed, not kept beside the file until the lifecycle rule.
    upload_key = _key_of(created)
    listed = s3_client(aws_path.endpoint).list_objects_v2(
        Bucket=aws_path.stack.bucket, Prefix=upload_key.rsplit("/", 1)[0] + "/"
    )
    keys = [entry["Key"] for entry in listed.get("Contents", [])]
    assert len(keys) == 1 and upload_key not in keys


def test_unknown_foreign_and_malformed_records_do_not_fail_the_batch(
    aws_path: AwsPath, files: FileClient
) -> None:
    created = _upload_bytes(files, CONTENT)
    ours = _record_for(aws_path, created)
    key = _key_of(created)
    foreign = s3_record("someone-elses-bucket", key, size=len(CONTENT))
    removed = s3_record(aws_path.stack.bucket, key, event_name="ObjectRemoved:Delete")
    # Every byte percent-encoded, '/' too: decoded before the key is looked at.
    ours["s3"]["object"]["key"] = quote(key, safe="")
    event = s3_event(
        s3_record(aws_path.stack.bucket, "uploads/holiday photo (1).jpg"),
        s3_record(aws_path.stack.bucket, f"files/{'0' * 32}/blob"),  # no such file
        {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"object": {}}},
        "not a record",
        {"eventSource": "aws:sqs", "body": "{}"},
        foreign,
        removed,
        ours,
    )

    summary = aws_path.handler(event, LambdaContext())

    assert summary == {"records": 8, "completed": 1, "ignored": 7, "failed": 0}
    assert files.status(created.file_id) == "READY"


def test_bytes_unlike_the_declaration_leave_the_file_pending(
    aws_path: AwsPath, files: FileClient
) -> None:
    # moto does not enforce the POST policy (real S3 would refuse this upload), so the
    # wrong-size object is stored and the event's completion must catch it.
    created = files.create_upload("notes.txt", "text/plain", len(CONTENT))
    _send(files, created, CONTENT + b"extra")
    record = _record_for(aws_path, created)

    summary = aws_path.handler(s3_event(record), LambdaContext())

    assert summary == {"records": 1, "completed": 0, "ignored": 1, "failed": 0}
    assert files.status(created.file_id) == "PENDING"
    assert error_codes(files.complete_upload_answer(created.file_id)) == ["BAD_USER_INPUT"]
    # The refused object is gone, so the same target takes a correct upload.
    _send(files, created, CONTENT)
    again = aws_path.handler(s3_event(_record_for(aws_path, created)), LambdaContext())
    assert again["completed"] == 1
    assert files.status(created.file_id) == "READY"


def test_a_retryable_failure_fails_the_invocation_after_every_record_was_tried(
    aws_path: AwsPath, files: FileClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    unlucky, lucky = _upload_bytes(files, CONTENT), _upload_bytes(files, CONTENT)
    service = aws_path.handler.services.files
    complete = service.complete_upload_from_store_event

    async def flaky(key: str) -> FileRecord | None:
        if key == _key_of(unlucky):
            raise StoreUnavailableError("Item storage is unavailable")
        return await complete(key)

    monkeypatch.setattr(service, "complete_upload_from_store_event", flaky)
    event = s3_event(_record_for(aws_path, unlucky), _record_for(aws_path, lucky))

    with pytest.raises(StoreEventError, match="1 of 2"):
        aws_path.handler(event, LambdaContext())

    # Lambda re-delivers the whole event; completing is idempotent.
    assert files.status(lucky.file_id) == "READY"
    monkeypatch.undo()
    assert aws_path.handler(event, LambdaContext())["completed"] == 2
    assert files.status(unlucky.file_id) == "READY"


def test_the_module_entry_point_serves_both_kinds_of_event(
    aws_path: AwsPath, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What Lambda calls: built from the environment on first use, then reused.
    monkeypatch.setattr(lambda_handler, "_handler", None)
    unknown = s3_event(s3_record(aws_path.stack.bucket, "files/not-a-file-id!/blob"))
    assert lambda_handler.handler(unknown, LambdaContext())["ignored"] == 1
    built = lambda_handler._handler
    health = lambda_handler.handler(http_api_event("GET", "/healthz"), LambdaContext())
    assert (health["statusCode"], response_json(health)) == (200, {"status": "ok"})
    assert lambda_handler._handler is built
