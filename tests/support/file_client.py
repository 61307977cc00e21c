"""A file-API client for tests: createUpload, then the bytes straight to the upload target
exactly as a browser would send them, then completeUpload, downloadUrl and the download.

GraphQL goes through any ``GraphQLCall`` (HTTP to a real server with ``FileClient.over_http``,
or API Gateway events into the Lambda handler); bytes always go over real HTTP with httpx,
WITHOUT the API's Authorization header (a browser does not send it to S3 or /blobs: the
URL itself is the capability). Every HTTP call has a timeout.

    with FileClient.over_http(base_url, token) as files:
        ready = files.upload("report.pdf", "application/pdf", data)
        assert files.download(ready["downloadUrl"]).content == data
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx

TIMEOUT_SECONDS = 10.0
GraphQLCall = Callable[[str, Mapping[str, Any] | None], dict[str, Any]]

FILE_FIELDS = """
  id name contentType size sha256 status visibility description tags version
  createdAt updatedAt
"""
CREATE_UPLOAD = f"""
mutation CreateUpload($input: CreateUploadInput!) {{
  createUpload(input: $input) {{
    file {{ {FILE_FIELDS} }}
    upload {{ url method fields headers expiresAt }}
  }}
}}
"""
COMPLETE_UPLOAD = f"mutation Complete($id: ID!) {{ completeUpload(id: $id) {{ {FILE_FIELDS} }} }}"
FILE = f"""
query File($id: ID!, $expiresIn: Int) {{
  file(id: $id) {{ {FILE_FIELDS} downloadUrl(expiresIn: $expiresIn) }}
}}
"""
MY_FILES = f"""
query MyFiles($first: Int) {{
  myFiles(first: $first) {{ edges {{ node {{ {FILE_FIELDS} }} }} }}
}}
"""


class GraphQLFailed(AssertionError):
    """The answer carried errors where the caller expected data."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"GraphQL errors: {errors}")
        self.errors = errors

    @property
    def codes(self) -> list[str]:
        return [str(error.get("extensions", {}).get("code")) for error in self.errors]


@dataclass(frozen=True)
class UploadTarget:
    url: str
    method: str
    fields: dict[str, str]
    headers: dict[str, str]
    expires_at: str

    @classmethod
    def from_json(cls, upload: Mapping[str, Any]) -> UploadTarget:
        return cls(
            url=upload["url"],
            method=upload["method"],
            fields=dict(upload["fields"]),
            headers=dict(upload["headers"]),
            expires_at=upload["expiresAt"],
        )


@dataclass(frozen=True)
class CreatedUpload:
    file: dict[str, Any]
    target: UploadTarget

    @property
    def file_id(self) -> str:
        return str(self.file["id"])


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def errors_of(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(answer.get("errors") or [])


def error_codes(answer: Mapping[str, Any]) -> list[str]:
    return [str(error.get("extensions", {}).get("code")) for error in errors_of(answer)]


class FileClient:
    def __init__(self, graphql: GraphQLCall, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self._graphql = graphql
        # The browser's view of the blob store: no API credentials, no redirects followed.
        self.blob_http = httpx.Client(timeout=timeout, follow_redirects=False)
        self._closers: list[Callable[[], None]] = [self.blob_http.close]

    @classmethod
    def over_http(
        cls, base_url: str, token: str, *, timeout: float = TIMEOUT_SECONDS
    ) -> FileClient:
        """GraphQL as ``POST {base_url}/graphql`` with ``Authorization: Bearer <token>``."""
        api = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

        def call(query: str, variables: Mapping[str, Any] | None) -> dict[str, Any]:
            body: dict[str, Any] = {"query": query}
            if variables is not None:
                body["variables"] = dict(variables)
            response = api.post("/graphql", json=body)
            assert response.status_code == 200, (response.status_code, response.text)
            answer: dict[str, Any] = response.json()
            return answer

        client = cls(call, timeout=timeout)
        client._closers.append(api.close)
        return client

    def close(self) -> None:
        for close in self._closers:
            close()

    def __enter__(self) -> FileClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- GraphQL ---

    def ask(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The whole answer: ``data`` and, maybe, ``errors``."""
        return self._graphql(query, variables)

    def data(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``data`` of an answer that must carry no errors."""
        answer = self.ask(query, variables)
        if errors_of(answer):
            raise GraphQLFailed(errors_of(answer))
        data: dict[str, Any] = answer["data"]
        return data

    def create_upload(
        self,
        name: str,
        content_type: str,
        size: int,
        *,
        sha256: str | None = None,
        **extra: Any,
    ) -> CreatedUpload:
        """``extra``: description, tags, visibility — CreateUploadInput's other fields."""
        upload_input: dict[str, Any] = {"name": name, "contentType": content_type, "size": size}
        if sha256 is not None:
            upload_input["sha256"] = sha256
        upload_input.update(extra)
        payload = self.data(CREATE_UPLOAD, {"input": upload_input})["createUpload"]
        return CreatedUpload(payload["file"], UploadTarget.from_json(payload["upload"]))

    def complete_upload_answer(self, file_id: str) -> dict[str, Any]:
        return self.ask(COMPLETE_UPLOAD, {"id": file_id})

    def complete_upload(self, file_id: str) -> dict[str, Any]:
        completed: dict[str, Any] = self.data(COMPLETE_UPLOAD, {"id": file_id})["completeUpload"]
        return completed

    def file(self, file_id: str, *, expires_in: int | None = None) -> dict[str, Any] | None:
        variables: dict[str, Any] = {"id": file_id}
        if expires_in is not None:
            variables["expiresIn"] = expires_in
        found: dict[str, Any] | None = self.data(FILE, variables)["file"]
        return found

    def status(self, file_id: str) -> str | None:
        """The file's status as the viewer sees it; None when ``file`` answers null."""
        found = self.file(file_id)
        return None if found is None else str(found["status"])

    def my_files(self, first: int = 20) -> list[dict[str, Any]]:
        connection = self.data(MY_FILES, {"first": first})["myFiles"]
        return [edge["node"] for edge in connection["edges"]]

    # --- bytes ---

    def send_bytes(
        self,
        target: UploadTarget,
        content: bytes,
        *,
        filename: str = "blob",
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send ``content`` as a browser would follow the target: ``PUT`` — fetch(url,
        {method: "PUT", headers, body}); ``POST`` — a FormData with every field in order,
        the ``file`` part last. ``headers`` override the target's (e.g. a wrong
        Content-Type, to see the store refuse it)."""
        if target.method == "PUT":
            sent = {**target.headers, **(headers or {})}
            return self.blob_http.put(target.url, content=content, headers=sent)
        if target.method == "POST":
            part_type = target.fields.get("Content-Type", "application/octet-stream")
            return self.blob_http.post(
                target.url,
                data=target.fields,
                files={"file": (filename, content, part_type)},
                headers=dict(headers or {}),
            )
        raise AssertionError(f"unknown upload method {target.method!r}")

    def download(self, url: str) -> httpx.Response:
        return self.blob_http.get(url)

    # --- the whole dance ---

    def upload(
        self,
        name: str,
        content_type: str,
        content: bytes,
        *,
        declare_sha256: bool = True,
        **extra: Any,
    ) -> dict[str, Any]:
        """createUpload → send the bytes → completeUpload; the READY file, with its
        ``downloadUrl``. Fails loudly at the first step that does not succeed."""
        created = self.create_upload(
            name,
            content_type,
            len(content),
            sha256=sha256_hex(content) if declare_sha256 else None,
            **extra,
        )
        sent = self.send_bytes(created.target, content, filename=name)
        assert sent.is_success, (sent.status_code, sent.text)
        completed = self.complete_upload(created.file_id)
        assert completed["status"] == "READY", completed
        ready = self.file(created.file_id)
        assert ready is not None
        return ready


def dev_idp_token(
    base_url: str, username: str, password: str = "correct horse battery staple"
) -> str:
    """Sign up with the local identity provider (if new) and return an ID token."""
    with httpx.Client(base_url=base_url, timeout=TIMEOUT_SECONDS) as auth:
        signup = auth.post("/auth/signup", json={"username": username, "password": password})
        assert signup.status_code in (201, 409), (signup.status_code, signup.text)
        token = auth.post("/auth/token", json={"username": username, "password": password})
        assert token.status_code == 200, (token.status_code, token.text)
        return str(token.json()["idToken"])


_FILENAME_STAR = re.compile(r"filename\*\s*=\s*UTF-8''([^;\s]+)", re.IGNORECASE)


def disposition_filename(header: str) -> str | None:
    """The RFC 5987 ``filename*`` of a Content-Disposition header, decoded."""
    match = _FILENAME_STAR.search(header)
    return unquote(match.group(1), encoding="utf-8", errors="strict") if match else None
