"""The file lifecycle through the real `demobackend serve` process on 127.0.0.1, for both
backends: createUpload, the bytes sent straight to the upload target as a browser would
(PUT to the local /blobs endpoint; multipart POST to S3 in moto's server), completeUpload,
downloadUrl, the download — and the local blob endpoint refusing bytes that are not what
was declared, leaving the file PENDING."""

import os

import pytest

from tests.integration.conftest import MAX_UPLOAD_BYTES, Served
from tests.support.file_client import disposition_filename, error_codes, sha256_hex

pytestmark = pytest.mark.slow

# Not ASCII, with a space, quotes and a percent sign: all must survive Content-Disposition.
NAME = 'Prüfbericht "final" 100% \u2013 日本語.pdf'
# Binary, and larger than one request chunk, so streaming on both sides is exercised.
CONTENT = os.urandom(300_000)


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
