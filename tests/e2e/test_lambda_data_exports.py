"""A large data export on Lambda: exportMyData answers BUILDING and invokes the function
itself asynchronously (InvocationType=Event); that invocation's event builds the archive
into S3, and dataExport(id) then answers READY. DynamoDB, S3 and Cognito are moto's server
over HTTP; the Lambda Invoke API is the one edge replaced (moto would need Docker to run
a function), by a client that records the call so the test can deliver its event the way
Lambda does."""

import io
import json
import tarfile
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from api import aws_clients
from api.lambda_handler import build_handler
from api.settings import load_settings
from tests.support.apigw_events import LambdaContext
from tests.support.aws_path import AwsPath

pytestmark = pytest.mark.slow

EXPORT = "mutation { exportMyData { id status url } }"
STATUS = "query($id: ID!) { dataExport(id: $id) { id status url } }"


class RecordingLambda:
    def __init__(self, fail: bool = False) -> None:
        self.invocations: list[dict[str, Any]] = []
        self.fail = fail

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        if self.fail:
            raise ClientError({"Error": {"Code": "TooManyRequestsException"}}, "Invoke")
        self.invocations.append(kwargs)
        return {"StatusCode": 202}


def lambda_path(
    aws_path: AwsPath, monkeypatch: pytest.MonkeyPatch, client: RecordingLambda
) -> AwsPath:
    monkeypatch.setattr(aws_clients, "lambda_client", lambda _settings: client)
    settings = load_settings(export_runner="lambda", export_inline_max_bytes=0)
    return AwsPath(aws_path.stack, aws_path.endpoint, build_handler(settings))


def test_a_large_export_is_built_by_an_asynchronous_self_invocation(
    aws_path: AwsPath, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoker = RecordingLambda()
    path = lambda_path(aws_path, monkeypatch, invoker)
    token = path.tokens("ines").id_token
    path.file_client("ines").upload("a.txt", "text/plain", b"ines's bytes")

    started = path.ask(EXPORT, token)["data"]["exportMyData"]
    assert (started["status"], started["url"]) == ("BUILDING", None)
    [call] = invoker.invocations
    assert call["FunctionName"] == LambdaContext.invoked_function_arn
    assert call["InvocationType"] == "Event"
    polled = path.ask(STATUS, token, {"id": started["id"]})["data"]["dataExport"]
    assert polled["status"] == "BUILDING"

    # What Lambda then does: run the function with that payload.
    outcome = path.handler(json.loads(call["Payload"]), LambdaContext())
    assert outcome == {"export": "READY"}
    ready = path.ask(STATUS, token, {"id": started["id"]})["data"]["dataExport"]
    assert ready["status"] == "READY", ready
    with urllib.request.urlopen(ready["url"], timeout=10) as response:
        with tarfile.open(fileobj=io.BytesIO(response.read())) as tar:
            names = tar.getnames()
    assert names[-1] == "manifest.json" and names[0].endswith("/a.txt")
    # Lambda retries an event: the second delivery finds the export built and does nothing.
    assert path.handler(json.loads(call["Payload"]), LambdaContext()) == {"export": "skipped"}


def test_an_export_lambda_refuses_to_start_fails_at_once(
    aws_path: AwsPath, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = lambda_path(aws_path, monkeypatch, RecordingLambda(fail=True))
    token = path.tokens("jon").id_token
    path.file_client("jon").upload("a.txt", "text/plain", b"jon's bytes")
    failed = path.ask(EXPORT, token)["data"]["exportMyData"]
    assert (failed["status"], failed["url"]) == ("FAILED", None)
    assert path.ask(STATUS, token, {"id": failed["id"]})["data"]["dataExport"]["status"] == "FAILED"
