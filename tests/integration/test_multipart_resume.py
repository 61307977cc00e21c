"""A 48 MiB upload in parts survives a dropped connection: through the real server process
on both backends (parts PUT to the local /blobs endpoint; to S3 in moto's server), the
connection dies halfway through a part, the client asks the file which parts the store
holds, gets fresh targets for the rest, completes, and downloads exactly its bytes."""

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Served
from tests.support import multipart_client as mp
from tests.support import s3_part_checksums as s3_harness
from tests.support.aws_server import provision_aws_stack
from tests.support.file_client import FileClient, dev_idp_token, sha256_hex
from tests.support.server_process import running_server

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
SIZE = 48 * MIB
SERVER_ENV = {
    "DEMOBACKEND_MAX_UPLOAD_BYTES": str(64 * MIB),
    "DEMOBACKEND_STORAGE_QUOTA_BYTES": str(256 * MIB),
    "DEMOBACKEND_MULTIPART_PART_BYTES": str(8 * MIB),
    # Larger multipart uploads must carry part checksums (the 48 MiB one just fits).
    "DEMOBACKEND_MULTIPART_INLINE_VERIFY_MAX_BYTES": str(SIZE),
}


@pytest.fixture(scope="module")
def local_mp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("mp-local")
    with running_server(data_dir, **SERVER_ENV) as server:
        yield Served("local", server.base_url, lambda name: dev_idp_token(server.base_url, name))


@pytest.fixture(scope="module")
def aws_mp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    stack = provision_aws_stack("mpres")
    data_dir = Path(tmp_path_factory.mktemp("mp-aws"))
    with running_server(data_dir, **stack.env, **SERVER_ENV) as server:
        yield Served("aws", server.base_url, stack.token_for)


@pytest.fixture(scope="module", params=["local", "aws"])
def served(request: pytest.FixtureRequest) -> Served:
    server: Served = request.getfixturevalue(f"{request.param}_mp")
    return server


CONTENT = os.urandom(SIZE)


def test_an_interrupted_upload_resumes_from_the_parts_the_store_holds(served: Served) -> None:
    with served.files_of("resumer") as files:
        files.blob_http.timeout = 60
        upload = mp.create(files, "big.bin", SIZE, sha256=sha256_hex(CONTENT))
        assert (upload.part_size, upload.part_count) == (8 * MIB, 6)
        etags = mp.send_parts(files, upload, CONTENT, [1, 2])
        [third] = mp.targets(files, upload.file_id, [3])
        mp.send_part_cut_off(files, third, upload.chunk(CONTENT, 3))

        # A new session: all the client kept is the file id.
        assert mp.uploaded_parts(files, upload.file_id) == [1, 2]
        missing = [n for n in range(1, 7) if n not in mp.uploaded_parts(files, upload.file_id)]
        etags |= mp.send_parts(files, upload, CONTENT, missing)
        assert mp.uploaded_parts(files, upload.file_id) == [1, 2, 3, 4, 5, 6]

        answer = mp.complete(files, upload.file_id, mp.parts_list(etags))

        assert "errors" not in answer, answer
        ready = files.file(upload.file_id)
        assert ready is not None
        assert (ready["status"], ready["sha256"]) == ("READY", sha256_hex(CONTENT))
        downloaded = files.download(ready["downloadUrl"])
        assert hashlib.sha256(downloaded.content).hexdigest() == sha256_hex(CONTENT)
        assert downloaded.content == CONTENT
        assert mp.uploaded_parts(files, upload.file_id) == []


# --- bad input: refused with a clear code, and nothing changes --------------------------

SMALL = os.urandom(16 * MIB + 1234)  # 3 parts of the 8 MiB plan


def _codes(answer: dict[str, object]) -> list[str]:
    errors = answer.get("errors") or []
    assert isinstance(errors, list)
    return [error["extensions"]["code"] for error in errors]


def _unchanged(files: FileClient, upload: mp.MultipartUpload, parts: list[int]) -> None:
    found = files.file(upload.file_id)
    assert found is not None
    assert (found["status"], found["version"]) == ("PENDING", upload.file["version"])
    assert mp.uploaded_parts(files, upload.file_id) == parts


@pytest.mark.parametrize("numbers", [[0], [4], [-1], [1, 1], []])
def test_part_numbers_outside_the_plan_or_repeated_are_refused(
    served: Served, numbers: list[int]
) -> None:
    with served.files_of("numbers") as files:
        upload = mp.create(files, "a.bin", len(SMALL))
        assert _codes(mp.part_targets(files, upload.file_id, numbers)) == ["BAD_USER_INPUT"]
        _unchanged(files, upload, [])


def test_completion_lists_that_do_not_fit_are_refused(served: Served) -> None:
    with served.files_of("lists") as files:
        upload = mp.create(files, "a.bin", len(SMALL), sha256=sha256_hex(SMALL))
        other = mp.create(files, "b.bin", len(SMALL))
        other_content = os.urandom(len(SMALL))
        etags = mp.send_parts(files, upload, SMALL, [1, 2, 3])
        foreign = mp.send_parts(files, other, other_content, [1, 2, 3])
        bad_lists = [
            mp.parts_list({1: etags[1], 2: etags[2]}),  # a part missing
            [*mp.parts_list(etags), {"partNumber": 3, "etag": etags[3]}],  # repeated
            mp.parts_list({**etags, 4: etags[3]}),  # outside the plan
            mp.parts_list({**etags, 2: '"' + "0" * 32 + '"'}),  # wrong ETag
            mp.parts_list({**etags, 2: foreign[2]}),  # another upload's part
            [],  # no parts for a multipart upload
            None,
        ]
        for parts in bad_lists:
            assert _codes(mp.complete(files, upload.file_id, parts)) == ["BAD_USER_INPUT"], parts
            _unchanged(files, upload, [1, 2, 3])
        assert "errors" not in mp.complete(files, upload.file_id, mp.parts_list(etags))


def test_parts_are_refused_for_a_single_upload(served: Served) -> None:
    with served.files_of("single") as files:
        created = files.create_upload("s.txt", "text/plain", 5)
        parts = [{"partNumber": 1, "etag": "x"}]
        assert _codes(mp.complete(files, created.file_id, parts)) == ["BAD_USER_INPUT"]
        assert _codes(mp.part_targets(files, created.file_id, [1])) == ["BAD_USER_INPUT"]
        assert files.status(created.file_id) == "PENDING"


def test_nothing_reaches_an_aborted_or_completed_upload(served: Served) -> None:
    with served.files_of("closed") as files:
        aborted = mp.create(files, "a.bin", len(SMALL))
        mp.send_parts(files, aborted, SMALL, [1])
        [late] = mp.targets(files, aborted.file_id, [2])
        assert mp.abort(files, aborted.file_id)["data"] == {"abortUpload": aborted.file_id}
        assert not mp.send_part(files, late, aborted.chunk(SMALL, 2)).is_success
        assert files.file(aborted.file_id) is None
        assert _codes(mp.part_targets(files, aborted.file_id, [2])) == ["NOT_FOUND"]
        assert _codes(mp.abort(files, aborted.file_id)) == ["NOT_FOUND"]

        done = mp.create(files, "d.bin", len(SMALL))
        etags = mp.send_parts(files, done, SMALL, [1, 2, 3])
        [again] = mp.targets(files, done.file_id, [1])
        assert "errors" not in mp.complete(files, done.file_id, mp.parts_list(etags))
        assert not mp.send_part(files, again, os.urandom(len(done.chunk(SMALL, 1)))).is_success
        assert _codes(mp.part_targets(files, done.file_id, [1])) == ["BAD_USER_INPUT"]
        assert _codes(mp.abort(files, done.file_id)) == ["BAD_USER_INPUT"]
        ready = files.file(done.file_id)
        assert ready is not None and files.download(ready["downloadUrl"]).content == SMALL


@pytest.mark.parametrize(
    ("visibility", "code"), [("PRIVATE", "NOT_FOUND"), ("PUBLIC", "FORBIDDEN")]
)
def test_another_users_upload_is_refused_as_every_change_is(
    served: Served, visibility: str, code: str
) -> None:
    """A file the intruder cannot read is NOT_FOUND; one they may read but not change
    (PUBLIC) is FORBIDDEN, as completeUpload and updateFile answer."""
    with served.files_of("owner") as owner, served.files_of("intruder") as intruder:
        upload = mp.create(owner, "a.bin", len(SMALL), visibility=visibility)
        etags = mp.send_parts(owner, upload, SMALL, [1, 2, 3])
        assert _codes(mp.part_targets(intruder, upload.file_id, [1])) == [code]
        assert _codes(mp.complete(intruder, upload.file_id, mp.parts_list(etags))) == [code]
        assert _codes(mp.abort(intruder, upload.file_id)) == [code]
        if visibility == "PUBLIC":
            assert mp.uploaded_parts(intruder, upload.file_id) == []  # owner only
        _unchanged(owner, upload, [1, 2, 3])


def test_bytes_unlike_the_declared_sha256_leave_the_file_pending_with_a_clear_error(
    served: Served,
) -> None:
    with served.files_of("liar") as files:
        upload = mp.create(files, "a.bin", len(SMALL), sha256=sha256_hex(b"something else"))
        etags = mp.send_parts(files, upload, SMALL, [1, 2, 3])
        answer = mp.complete(files, upload.file_id, mp.parts_list(etags))
        assert _codes(answer) == ["BAD_USER_INPUT"]
        assert "SHA-256" in str(answer["errors"])
        assert files.status(upload.file_id) == "PENDING"
        # The parts went into the failed assembly; the upload is open again, empty.
        assert mp.uploaded_parts(files, upload.file_id) == []
        assert mp.targets(files, upload.file_id, [1])


# --- part checksums: the store checks each part against the SHA-256 the client gave ----
# On S3 (moto's server) the harness enforces what S3 does and moto does not: the signed
# x-amz-checksum-sha256, BadDigest, ListParts' ChecksumSHA256 (tests/support/s3_part_checksums.py).


def test_a_part_unlike_its_checksum_is_refused_and_a_differing_completion_too(
    served: Served,
) -> None:
    with served.files_of("summer") as files:
        upload = mp.create(files, "c.bin", len(SMALL), sha256=sha256_hex(SMALL), partChecksums=True)
        assert upload.part_checksums
        sums = mp.part_sha256(upload, SMALL, [1, 2, 3])
        assert _codes(mp.part_targets(files, upload.file_id, [1])) == ["BAD_USER_INPUT"]
        assert _codes(mp.part_targets(files, upload.file_id, [1, 2], sums[:1])) == [
            "BAD_USER_INPUT"
        ]
        [first] = mp.targets(files, upload.file_id, [1], sums[:1])
        assert set(first["headers"]) == {"x-amz-checksum-sha256"}

        corrupted = bytes([SMALL[0] ^ 1]) + upload.chunk(SMALL, 1)[1:]
        refused = mp.send_part(files, first, corrupted)
        assert refused.status_code == 400, refused.text
        _unchanged(files, upload, [])

        etags = mp.send_parts(files, upload, SMALL, [1, 2, 3])
        listed = [{**part, "sha256": sums[part["partNumber"] - 1]} for part in mp.parts_list(etags)]
        wrong = [
            {**part, "sha256": sha256_hex(b"other")} if part["partNumber"] == 2 else part
            for part in listed
        ]
        answer = mp.complete(files, upload.file_id, wrong)
        assert _codes(answer) == ["BAD_USER_INPUT"]
        assert "part 2: SHA-256 differs" in str(answer["errors"])
        _unchanged(files, upload, [1, 2, 3])

        assert "errors" not in mp.complete(files, upload.file_id, listed)
        ready = files.file(upload.file_id)
        assert ready is not None and ready["status"] == "READY"
        assert files.download(ready["downloadUrl"]).content == SMALL


def test_part_checksums_are_refused_for_an_upload_created_without_them(served: Served) -> None:
    with served.files_of("nosum") as files:
        upload = mp.create(files, "n.bin", len(SMALL))
        assert not upload.part_checksums
        sums = mp.part_sha256(upload, SMALL, [1])
        assert _codes(mp.part_targets(files, upload.file_id, [1], sums)) == ["BAD_USER_INPUT"]
        _unchanged(files, upload, [])


# --- completion on S3 verifies the composite of the part checksums, no read back --------
# S3 checked every part against its SHA-256 on upload; at completion the server checks the
# object's COMPOSITE checksum against the parts S3 listed. The harness counts GetObject
# requests on moto's server (s3_part_checksums.object_reads): the server's own and the
# test's download alike, so a read back would show.


def _complete_with_checksums(files: FileClient, content: bytes) -> tuple[str, int]:
    upload = mp.create(files, "p.bin", len(content), sha256=sha256_hex(content), partChecksums=True)
    etags = mp.send_parts(files, upload, content, range(1, upload.part_count + 1))
    answer = mp.complete(files, upload.file_id, mp.parts_list(etags))
    assert "errors" not in answer, answer
    return upload.file_id, s3_harness.reads_of_file(upload.file_id)


def test_a_part_checksum_upload_completes_on_s3_without_reading_the_object_back(
    aws_mp: Served,
) -> None:
    with aws_mp.files_of("composite") as files:
        file_id, reads = _complete_with_checksums(files, SMALL)
        assert reads == 0
        ready = files.file(file_id)
        assert ready is not None
        # Recorded as declared: every byte was checked by S3 against its part's SHA-256.
        assert (ready["status"], ready["sha256"]) == ("READY", sha256_hex(SMALL))
        assert files.download(ready["downloadUrl"]).content == SMALL
        assert s3_harness.reads_of_file(file_id) == 1  # the download: the counter sees reads

        # Without part checksums the server has no other way than to hash it back.
        plain = mp.create(files, "q.bin", len(SMALL), sha256=sha256_hex(SMALL))
        etags = mp.send_parts(files, plain, SMALL, [1, 2, 3])
        assert "errors" not in mp.complete(files, plain.file_id, mp.parts_list(etags))
        assert s3_harness.reads_of_file(plain.file_id) == 1


def test_a_composite_unlike_the_listed_parts_leaves_the_file_pending(aws_mp: Served) -> None:
    with aws_mp.files_of("swapped") as files:
        upload = mp.create(files, "w.bin", len(SMALL), sha256=sha256_hex(SMALL), partChecksums=True)
        etags = mp.send_parts(files, upload, SMALL, [1, 2, 3])
        s3_harness.swap_recorded_part_checksums(upload.file_id, 1, 2)

        answer = mp.complete(files, upload.file_id, mp.parts_list(etags))

        assert _codes(answer) == ["BAD_USER_INPUT"]
        assert "differs from its parts' SHA-256 checksums" in str(answer["errors"])
        found = files.file(upload.file_id)
        assert found is not None and found["status"] == "PENDING"
        assert s3_harness.reads_of_file(upload.file_id) == 0
        assert [(f["id"], f["status"]) for f in files.my_files()] == [(upload.file_id, "PENDING")]
        # The assembled object is gone; the upload is open again, empty, and takes them.
        assert mp.uploaded_parts(files, upload.file_id) == []
        etags = mp.send_parts(files, upload, SMALL, [1, 2, 3])
        assert "errors" not in mp.complete(files, upload.file_id, mp.parts_list(etags))
        assert files.status(upload.file_id) == "READY"


@pytest.mark.parametrize("with_sums", [True, False])
def test_a_completion_s3_finished_after_the_deadline_is_verified_without_a_read(
    aws_mp: Served, with_sums: bool
) -> None:
    with aws_mp.files_of("late") as files:
        upload = mp.create(files, "l.bin", len(SMALL), sha256=sha256_hex(SMALL), partChecksums=True)
        etags = mp.send_parts(files, upload, SMALL, [1, 2, 3])
        sums = mp.part_sha256(upload, SMALL, [1, 2, 3])
        s3_harness.assemble_behind_the_server(upload.file_id)
        parts = mp.parts_list(etags)
        if with_sums:  # then the composite is checked against the client's own sums
            wrong = [{**part, "sha256": sums[0]} for part in parts]
            assert _codes(mp.complete(files, upload.file_id, wrong)) == ["BAD_USER_INPUT"]
            assert files.status(upload.file_id) == "PENDING"  # and the object still there
            parts = [{**part, "sha256": sums[part["partNumber"] - 1]} for part in parts]

        answer = mp.complete(files, upload.file_id, parts)

        assert "errors" not in answer, answer
        assert files.status(upload.file_id) == "READY"
        assert s3_harness.reads_of_file(upload.file_id) == 0


def test_multipart_uploads_too_large_to_hash_back_need_part_checksums(served: Served) -> None:
    with served.files_of("huge") as files:
        over = {"name": "h.bin", "contentType": "application/octet-stream", "size": SIZE + 1}
        answer = files.ask(mp.CREATE_MULTIPART, {"input": {**over, "multipart": True}})
        assert _codes(answer) == ["BAD_USER_INPUT"]
        assert "partChecksums: true" in str(answer["errors"])
        assert files.my_files() == []  # nothing created, nothing reserved

        upload = mp.create(files, "h.bin", SIZE + 1, partChecksums=True)
        assert upload.part_checksums
        assert "errors" not in mp.abort(files, upload.file_id)
        # Up to the limit the server still hashes the assembled file itself.
        assert not mp.create(files, "s.bin", SIZE).part_checksums


def _rest_api(served: Served, name: str) -> httpx.Client:
    token = served.token_for(f"{name}-{os.urandom(4).hex()}")
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=served.base_url, headers=headers, timeout=60)


def _rest_create(api: httpx.Client, **extra: object) -> dict[str, Any]:
    declared = {"name": "r.bin", "contentType": "application/octet-stream", "size": len(SMALL)}
    created = api.post("/rest/files", json={**declared, "multipart": True, **extra})
    assert created.status_code == 201, created.text
    payload: dict[str, Any] = created.json()
    return payload


def test_rest_carries_the_same_multipart_contract(served: Served) -> None:
    with _rest_api(served, "rest") as api:
        payload = _rest_create(api, sha256=sha256_hex(SMALL))
        assert payload["upload"] is None
        plan, file_id = payload["multipart"], payload["file"]["id"]
        part_size = int(plan["partSize"])
        numbers = list(range(1, plan["partCount"] + 1))
        answer = api.post(f"/rest/files/{file_id}/parts", json={"partNumbers": numbers})
        assert answer.status_code == 200, answer.text
        etags = {}
        for target in answer.json()["items"]:
            n = target["partNumber"]
            chunk = SMALL[(n - 1) * part_size : n * part_size]
            sent = httpx.put(target["url"], content=chunk, headers=target["headers"], timeout=60)
            assert sent.status_code == 200, sent.text
            etags[n] = sent.headers["etag"]
        assert api.get(f"/rest/files/{file_id}/parts").json() == {"items": numbers}
        refused = api.post(f"/rest/files/{file_id}/complete")
        assert refused.status_code == 400, refused.text
        done = api.post(f"/rest/files/{file_id}/complete", json={"parts": mp.parts_list(etags)})
        assert done.status_code == 200, done.text
        assert (done.json()["status"], done.json()["sha256"]) == ("READY", sha256_hex(SMALL))

        other = api.post(
            "/rest/files",
            json={"name": "x.bin", "contentType": "text/plain", "size": 10, "multipart": True},
        ).json()["file"]["id"]
        assert api.post(f"/rest/files/{other}/abort").status_code == 204
        assert api.get(f"/rest/files/{other}").status_code == 404


def test_rest_takes_part_checksums(served: Served) -> None:
    with _rest_api(served, "rest-sum") as api:
        payload = _rest_create(api, partChecksums=True)
        plan, file_id = payload["multipart"], payload["file"]["id"]
        assert plan["partChecksums"] is True
        part_size = int(plan["partSize"])
        numbers = list(range(1, plan["partCount"] + 1))
        chunks = {n: SMALL[(n - 1) * part_size : n * part_size] for n in numbers}
        sums = [sha256_hex(chunks[n]) for n in numbers]
        refused = api.post(f"/rest/files/{file_id}/parts", json={"partNumbers": numbers})
        assert refused.status_code == 400, refused.text
        answer = api.post(
            f"/rest/files/{file_id}/parts", json={"partNumbers": numbers, "sha256": sums}
        )
        assert answer.status_code == 200, answer.text
        parts = []
        for target in answer.json()["items"]:
            n = target["partNumber"]
            assert "x-amz-checksum-sha256" in target["headers"]
            sent = httpx.put(
                target["url"], content=chunks[n], headers=target["headers"], timeout=60
            )
            assert sent.status_code == 200, sent.text
            parts.append({"partNumber": n, "etag": sent.headers["etag"], "sha256": sums[n - 1]})
        done = api.post(f"/rest/files/{file_id}/complete", json={"parts": parts})
        assert done.status_code == 200, done.text
        # No whole-file SHA-256 was declared, and with part checksums none is computed:
        # S3 keeps only each part's (the same answer on both backends).
        assert (done.json()["status"], done.json()["sha256"]) == ("READY", None)
