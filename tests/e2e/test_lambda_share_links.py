"""A share link on production's code path: the Lambda handler behind API Gateway events
(DynamoDB, S3 and Cognito in moto's server on 127.0.0.1). The link names the API's own
host, and following it with no Authorization header answers 302 to S3, whose bytes are the
file's; once revoked, the same event answers 404."""

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.apigw_events import LambdaContext, http_api_event, response_json
from tests.support.aws_path import AwsPath
from tests.support.file_client import FileClient

pytestmark = pytest.mark.slow

CONTENT = b"handed to someone without an account\n" * 100
CREATE = """mutation ($id: ID!) {
  createShareLink(fileId: $id, maxDownloads: 3) { id url downloads maxDownloads }
}"""
REVOKE = "mutation ($id: ID!) { revokeShareLink(id: $id) }"


@pytest.fixture
def files(aws_path: AwsPath) -> Iterator[FileClient]:
    with aws_path.file_client("vera") as client:
        yield client


def test_a_link_followed_through_api_gateway_serves_the_s3_bytes(
    aws_path: AwsPath, files: FileClient
) -> None:
    created = files.create_upload("gift.txt", "text/plain", len(CONTENT))
    assert files.send_bytes(created.target, CONTENT).status_code == 204
    files.complete_upload(created.file_id)
    link = files.data(CREATE, {"id": created.file_id})["createShareLink"]
    url = urlsplit(link["url"])
    assert (url.scheme, url.netloc) == ("https", "api.example.com")  # API Gateway's host

    followed = aws_path.handler(http_api_event("GET", url.path), LambdaContext())
    assert followed["statusCode"] == 302
    location = followed["headers"]["location"]
    assert location.startswith(aws_path.endpoint)  # presigned by S3 (moto), not the API
    assert httpx.get(location, timeout=30).content == CONTENT

    assert files.data(REVOKE, {"id": link["id"]})["revokeShareLink"] == link["id"]
    gone = aws_path.handler(http_api_event("GET", url.path), LambdaContext())
    assert gone["statusCode"] == 404
    assert response_json(gone)["error"]["code"] == "NOT_FOUND"
