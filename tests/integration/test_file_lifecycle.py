"""The file lifecycle through the real `demobackend serve` process on 127.0.0.1, for both
backends: createUpload, the bytes sent straight to the upload target as a browser would
(PUT to the local /blobs endpoint; multipart POST to S3 in moto's server), completeUpload,
downloadUrl, the download — and the local blob endpoint refusing bytes that are not what
was declared, leaving the file PENDING.

One server per backend for the module; every test signs in its own users."""

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ops.emulated_aws import provision, sign_in
from tests.support.file_client import (
    FileClient,
    dev_idp_token,
    disposition_filename,
    error_codes,
    sha256_hex,
)
from tests.support.moto_server import (
    REGION,
    cognito_client,
    dynamodb_client,
    s3_client,
    shared_moto_server,
    unique_name,
)
from tests.support.server_process import running_server

pytestmark = pytest.mark.slow

MAX_UPLOAD_BYTES = 1024 * 1024
PASSWORD = "correct-horse-battery-staple"
# Not ASCII, with a space, quotes and a percent sign: all must survive Content-Disposition.
NAME = 'Prüfbericht "final" 100% \u2013 日本語.pdf'
# Binary, and larger than one request chunk, so streaming on both sides is exercised.
CONTENT = os.urandom(300_000)


@dataclass
class Served:
    backend: str
    base_url: str
    token_for: Callable[[str], str]

    def files_of(self, prefix: str) -> FileClient:
        """A FileClient signed in as a new user named after ``prefix``."""
        username = f"{prefix}-{uuid.uuid4().hex[:8]}"
        return FileClient.over_http(self.base_url, self.token_for(username))


@pytest.fixture(scope="module")
def local_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("local-backend")
    with running_server(data_dir, DEMOBACKEND_MAX_UPLOAD_BYTES=str(MAX_UPLOAD_BYTES)) as server:
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
        "DEMOBACKEND_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
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


# --- both backends -------------------------------------------------------------------


def test_upload_complete_and_download_the_same_bytes(served: Served) -> None:
    with served.files_of("ada") as files:
        created = files.create_upload(
            NAME, "application/pdf", len(CONTENT), sha256=sha256_hex(CONTENT), tags=["q3"]
        )
        target = created.target
        assert created.file["status"] == "PENDING"
        # Each store's own way, as the UploadTarget tells the client (domain/ports.py).
        if served.backend == "local":
            assert (target.method, target.fields) == ("PUT", {})
            assert target.headers["Content-Type"] == "application/pdf"
            assert target.url.startswith(f"{served.base_url}/blobs/")
        else:
            assert target.method == "POST" and target.headers == {}
            assert target.fields["Content-Type"] == "application/pdf"
            assert "policy" in target.fields and "key" in target.fields
        assert created.file["name"] not in target.url  # the key is the server's, not the name

        sent = files.send_bytes(target, CONTENT, filename=NAME)
        assert sent.is_success, (sent.status_code, sent.text)
        completed = files.complete_upload(created.file_id)
        assert (completed["status"], completed["size"]) == ("READY", len(CONTENT))
        assert completed["sha256"] == sha256_hex(CONTENT)
        assert files.complete_upload(created.file_id)["version"] == completed["version"]

        ready = files.file(created.file_id)
        assert ready is not None and ready["downloadUrl"]
        download = files.download(ready["downloadUrl"])
        assert download.status_code == 200
        assert download.content == CONTENT
        disposition = download.headers["content-disposition"]
        assert disposition.startswith("attachment")
        assert disposition_filename(disposition) == NAME
        assert [(f["id"], f["status"]) for f in files.my_files()] == [(created.file_id, "READY")]


def test_complete_before_the_bytes_arrive_is_refused_and_stays_pending(served: Served) -> None:
    with served.files_of("bea") as files:
        created = files.create_upload("later.txt", "text/plain", 5)
        assert error_codes(files.complete_upload_answer(created.file_id)) == ["BAD_USER_INPUT"]
        pending = files.file(created.file_id)
        assert pending is not None
        assert (pending["status"], pending["downloadUrl"]) == ("PENDING", None)
        # The target is still good: the bytes arrive, and then the upload completes.
        assert files.send_bytes(created.target, b"hello").is_success
        assert files.complete_upload(created.file_id)["status"] == "READY"


def test_another_user_can_neither_see_nor_download_a_private_file(served: Served) -> None:
    with served.files_of("cyd") as owner, served.files_of("dov") as other:
        ready = owner.upload("private.txt", "text/plain", b"for my eyes only")
        assert other.file(ready["id"]) is None
        assert other.my_files() == []
        assert error_codes(other.complete_upload_answer(ready["id"])) == ["NOT_FOUND"]


def test_a_size_over_the_limit_is_refused_before_any_upload(served: Served) -> None:
    with served.files_of("eve") as files:
        answer = files.ask(
            "mutation($input: CreateUploadInput!) { createUpload(input: $input) { file { id } } }",
            {
                "input": {
                    "name": "big.bin",
                    "contentType": "application/octet-stream",
                    "size": MAX_UPLOAD_BYTES + 1,
                }
            },
        )
        assert error_codes(answer) == ["BAD_USER_INPUT"]
        assert files.my_files() == []


# --- the local blob endpoint enforces the declaration ---------------------------------

TEXT = b"The quick brown fox jumps over the lazy dog.\n" * 100


@pytest.mark.parametrize(
    ("case", "body", "headers", "status"),
    [
        ("larger than declared", TEXT + b"!", {}, 413),
        ("smaller than declared", TEXT[:-1], {}, 400),
        ("another content type", TEXT, {"Content-Type": "text/html"}, 400),
        # Same size, different bytes: only the declared SHA-256 can tell.
        ("bytes unlike the checksum", TEXT.replace(b"fox", b"cat"), {}, 400),
    ],
)
def test_local_blob_endpoint_refuses_what_was_not_declared(
    local_served: Served, case: str, body: bytes, headers: dict[str, str], status: int
) -> None:
    with local_served.files_of("fay") as files:
        created = files.create_upload("fox.txt", "text/plain", len(TEXT), sha256=sha256_hex(TEXT))

        refused = files.send_bytes(created.target, body, headers=headers)

        assert refused.status_code == status, (case, refused.text)
        assert refused.json()["error"]["code"] == "BAD_USER_INPUT"
        assert error_codes(files.complete_upload_answer(created.file_id)) == ["BAD_USER_INPUT"]
        assert files.status(created.file_id) == "PENDING"
        assert [f["status"] for f in files.my_files()] == ["PENDING"]
        # Nothing was kept: the same target still takes the declared bytes.
        assert files.send_bytes(created.target, TEXT).status_code == 200
        assert files.complete_upload(created.file_id)["status"] == "READY"
