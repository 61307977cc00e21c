"""A READY file's bytes are the ones its SHA-256 was recorded for, whatever a client does
with its still-valid upload URL: through the real server process on both backends (PUT
to the local /blobs endpoint; POST to S3 in moto's server), every route a client has to
send bytes again — a second upload before completing, the same URL replayed after
completing, the URL of a deleted upload — and the file downloading its original bytes.

No sha256 is declared: then nothing but the upload itself decides which bytes the file
gets, which is exactly when a swap used to go unnoticed."""

import os

import httpx
import pytest

from tests.integration.conftest import Served
from tests.support.file_client import CreatedUpload, FileClient, sha256_hex

pytestmark = pytest.mark.slow

ORIGINAL = os.urandom(200_000)
# The same size and type, so nothing but the bytes themselves tells them apart.
SWAPPED = os.urandom(len(ORIGINAL))
DELETE = "mutation Delete($id: ID!) { deleteFile(id: $id) }"


def _created(files: FileClient) -> CreatedUpload:
    return files.create_upload("contract.pdf", "application/pdf", len(ORIGINAL))


def _assert_refused(sent: httpx.Response) -> None:
    assert sent.status_code == 409, (sent.status_code, sent.text)
    assert sent.json()["error"]["code"] == "CONFLICT"


def _assert_serves(files: FileClient, file_id: str, content: bytes, version: int) -> None:
    """What a user sees: a fresh download, and the file's version and recorded hash."""
    ready = files.file(file_id)
    assert ready is not None
    assert files.download(ready["downloadUrl"]).content == content
    assert (ready["status"], ready["version"]) == ("READY", version)
    assert ready["sha256"] == sha256_hex(content)


def test_a_replayed_upload_url_cannot_swap_a_ready_files_bytes(served: Served) -> None:
    with served.files_of("mallory") as files:
        created = _created(files)
        assert files.send_bytes(created.target, ORIGINAL).is_success
        completed = files.complete_upload(created.file_id)

        replay = files.send_bytes(created.target, SWAPPED)

        if served.backend == "local":
            _assert_refused(replay)
        else:
            # S3 cannot refuse a second POST while the form's policy is valid; the bytes
            # land at the upload key, which the READY file no longer reads.
            assert replay.is_success, (replay.status_code, replay.text)
        _assert_serves(files, created.file_id, ORIGINAL, completed["version"])
        # Completing again (a retry, or to pick the new bytes up) changes nothing either.
        assert files.complete_upload(created.file_id)["sha256"] == sha256_hex(ORIGINAL)
        _assert_serves(files, created.file_id, ORIGINAL, completed["version"])


def test_a_second_upload_before_completing_never_makes_bytes_unlike_the_hash(
    served: Served,
) -> None:
    with served.files_of("mallory") as files:
        created = _created(files)
        assert files.send_bytes(created.target, ORIGINAL).is_success

        second = files.send_bytes(created.target, SWAPPED)

        if served.backend == "local":
            # The local endpoint writes an upload target once: the first bytes stay.
            _assert_refused(second)
            kept = ORIGINAL
        else:
            # On S3 the last upload before completing is the upload; what matters is
            # that the file records the hash of the bytes it serves.
            assert second.is_success, (second.status_code, second.text)
            kept = SWAPPED
        completed = files.complete_upload(created.file_id)
        _assert_serves(files, created.file_id, kept, completed["version"])


def test_the_url_of_a_deleted_upload_stores_nothing_locally(local_served: Served) -> None:
    with local_served.files_of("mallory") as files:
        created = _created(files)
        assert files.data(DELETE, {"id": created.file_id}) == {"deleteFile": created.file_id}

        late = files.send_bytes(created.target, ORIGINAL)

        _assert_refused(late)
        assert "no longer waiting" in late.json()["error"]["message"]
        assert files.file(created.file_id) is None
