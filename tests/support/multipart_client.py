"""A client's side of multipart uploads over GraphQL (createUpload with multipart,
uploadParts, File.uploadedParts, completeUpload with parts, abortUpload), on top of a
FileClient: what the README's fetch() example does, in Python."""

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.file_client import FILE_FIELDS, FileClient

CREATE_MULTIPART = f"""
mutation CreateUpload($input: CreateUploadInput!) {{
  createUpload(input: $input) {{
    file {{ {FILE_FIELDS} }}
    upload {{ url }}
    multipart {{ partSize partCount expiresAt partChecksums }}
  }}
}}
"""
UPLOAD_PARTS = """
mutation Parts($id: ID!, $numbers: [Int!]!, $sha256: [String!]) {
  uploadParts(id: $id, partNumbers: $numbers, sha256: $sha256) {
    partNumber url method headers
  }
}
"""
UPLOADED_PARTS = "query Uploaded($id: ID!) { file(id: $id) { status uploadedParts } }"
COMPLETE = f"""
mutation Complete($id: ID!, $parts: [CompletedPart!]) {{
  completeUpload(id: $id, parts: $parts) {{ {FILE_FIELDS} }}
}}
"""
ABORT = "mutation Abort($id: ID!) { abortUpload(id: $id) }"


@dataclass
class MultipartUpload:
    file: dict[str, Any]
    part_size: int
    part_count: int
    part_checksums: bool = False

    @property
    def file_id(self) -> str:
        return str(self.file["id"])

    def chunk(self, content: bytes, number: int) -> bytes:
        return content[(number - 1) * self.part_size : number * self.part_size]


def create(files: FileClient, name: str, size: int, **extra: Any) -> MultipartUpload:
    upload_input: dict[str, Any] = {
        "name": name,
        "contentType": "application/octet-stream",
        "size": size,
        "multipart": True,
        **extra,
    }
    payload = files.data(CREATE_MULTIPART, {"input": upload_input})["createUpload"]
    assert payload["upload"] is None, payload
    plan = payload["multipart"]
    return MultipartUpload(
        payload["file"], int(plan["partSize"]), int(plan["partCount"]), plan["partChecksums"]
    )


def part_targets(
    files: FileClient, file_id: str, numbers: Sequence[int], sha256: Sequence[str] | None = None
) -> dict[str, Any]:
    """The whole answer (data and maybe errors) of uploadParts."""
    variables = {"id": file_id, "numbers": list(numbers), "sha256": sha256}
    return files.ask(UPLOAD_PARTS, variables)


def targets(
    files: FileClient, file_id: str, numbers: Sequence[int], sha256: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    variables = {"id": file_id, "numbers": list(numbers), "sha256": sha256}
    found: list[dict[str, Any]] = files.data(UPLOAD_PARTS, variables)["uploadParts"]
    return found


def part_sha256(upload: MultipartUpload, content: bytes, numbers: Sequence[int]) -> list[str]:
    return [hashlib.sha256(upload.chunk(content, n)).hexdigest() for n in numbers]


def send_part(files: FileClient, target: Mapping[str, Any], data: bytes) -> httpx.Response:
    assert target["method"] == "PUT"
    return files.blob_http.put(target["url"], content=data, headers=dict(target["headers"]))


def send_parts(
    files: FileClient, upload: MultipartUpload, content: bytes, numbers: Sequence[int]
) -> dict[int, str]:
    """Send these parts (with their checksums, when the upload takes them); their ETags
    by part number."""
    etags = {}
    sha256 = part_sha256(upload, content, numbers) if upload.part_checksums else None
    for target in targets(files, upload.file_id, numbers, sha256):
        number = int(target["partNumber"])
        sent = send_part(files, target, upload.chunk(content, number))
        assert sent.status_code == 200, (sent.status_code, sent.text)
        etags[number] = sent.headers["etag"]
    return etags


def send_part_cut_off(files: FileClient, target: Mapping[str, Any], data: bytes) -> None:
    """Start sending a part and drop the connection halfway, as a lost network would."""

    class Dropped(Exception):
        pass

    def body() -> Iterator[bytes]:
        yield data[: len(data) // 2]
        raise Dropped

    headers = {**target["headers"], "Content-Length": str(len(data))}
    try:
        files.blob_http.put(target["url"], content=body(), headers=headers)
    except (Dropped, httpx.HTTPError):
        return
    raise AssertionError("the cut-off part was answered")


def uploaded_parts(files: FileClient, file_id: str) -> list[int]:
    found = files.data(UPLOADED_PARTS, {"id": file_id})["file"]
    assert found is not None
    return list(found["uploadedParts"])


def parts_list(etags: Mapping[int, str]) -> list[dict[str, Any]]:
    return [{"partNumber": n, "etag": etags[n]} for n in sorted(etags)]


def complete(files: FileClient, file_id: str, parts: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The whole answer of completeUpload."""
    return files.ask(COMPLETE, {"id": file_id, "parts": parts})


def abort(files: FileClient, file_id: str) -> dict[str, Any]:
    return files.ask(ABORT, {"id": file_id})
