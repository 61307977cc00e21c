"""Error masking: whatever a store throws — SQL text, a file path, a
botocore message, a token, a traceback — the caller sees only a generic error with a
request id, and the log holds the failure exactly once, with that request id, with
tokens redacted. Checked through the whole app (GraphQL, REST, /auth, /readyz) with the
real stores wrapped in ones that fail on demand, on both backends: local, and DynamoDB + S3
with Cognito tokens on moto's server. /auth is the local sign-in: in Cognito mode the app
serves no /auth routes (pinned below), so its cases are local. Then the real adapters."""

import json
import sqlite3
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from adapters.identity.dev_idp import DevIdentityProvider
from adapters.identity.passwords import ScryptHasher
from adapters.items.sqlite import SqliteItemStore
from api import aws_clients
from api.app import build_app
from api.bootstrap import DEV_IDP_KEY_FILE, Deps, build_deps, build_services
from api.settings import load_settings
from domain.errors import NotFoundError, StoreUnavailableError
from domain.ports import (
    BlobInfo,
    BlobStore,
    Item,
    ItemStore,
    Key,
    Page,
    PartTarget,
    Put,
    StoredPart,
    UploadTarget,
    WriteOp,
)
from tests.support.aws_app import AwsApp, aws_stack
from tests.support.aws_app import send as send_to_s3
from tests.support.aws_stores import shared_clients
from tests.support.backends import AWS
from tests.support.moto_server import shared_moto_server

BASE_URL = "http://127.0.0.1:8000"
PASSWORD = "correct horse battery staple"

SQL = "SELECT pk, sk, data FROM items WHERE pk = 'USER#sql-marker'"
PATH = "/work/main/.demobackend/blobs/fi/le/path-marker.bin"
BOTO = "Requested resource not found: Table: boto-marker not found"
TOKEN = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6Im1hcmtlciJ9.eyJzdWIiOiJ0b2tlbi1tYXJrZXIifQ.c2lnbmF0dXJlLW1hcmtlcg"
)
TRACE = (
    "Traceback (most recent call last):\n"
    '  File "/work/main/adapters/items/sqlite.py", line 164, in _call\ntrace-marker'
)
# What must never reach a caller: the planted details and the names of the internals.
LEAKS = (
    "sql-marker",
    "SELECT",
    "path-marker",
    "/work/",
    "ValidationException",
    "An error occurred",
    "boto-marker",
    TOKEN,
    "token-marker",
    "Traceback",
    "trace-marker",
    "sqlite",
    "OperationalError",
    "RuntimeError",
    "FileNotFoundError",
    "StoreUnavailableError",
)

Failure = Callable[[], Exception]
FAILURES: dict[str, Failure] = {
    "sql": lambda: sqlite3.OperationalError(f"database disk image is malformed: {SQL}"),
    "path": lambda: FileNotFoundError(2, "No such file or directory", PATH),
    "botocore": lambda: ClientError(
        {"Error": {"Code": "ValidationException", "Message": BOTO}}, "Query"
    ),
    "token": lambda: RuntimeError(f"upstream refused Authorization: Bearer {TOKEN}"),
    "traceback": lambda: RuntimeError(TRACE),
    # A domain error whose message breaks the adapters' promise of saying nothing inside.
    "chatty-domain-error": lambda: StoreUnavailableError(f"{SQL} on {PATH} with {TOKEN}"),
}


@dataclass
class Faults:
    """Which port methods fail, and with what; nothing fails until a test arms it."""

    failure: Failure | None = None
    methods: frozenset[str] = frozenset()
    raised: list[str] = field(default_factory=list)

    def arm(self, failure: Failure, *methods: str) -> None:
        self.failure, self.methods = failure, frozenset(methods)

    def check(self, method: str) -> None:
        if self.failure is not None and method in self.methods:
            self.raised.append(method)
            raise self.failure()


class FailingItemStore:
    def __init__(self, inner: ItemStore, faults: Faults) -> None:
        self._inner = inner
        self._faults = faults

    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        self._faults.check("get_many")
        return await self._inner.get_many(keys)

    async def query(self, partition: str, **options: Any) -> Page:
        self._faults.check("query")
        return await self._inner.query(partition, **options)

    async def write(self, ops: Sequence[WriteOp]) -> None:
        self._faults.check("write")
        await self._inner.write(ops)

    async def scan(self, *, page_size: int = 500) -> AsyncIterator[list[Item]]:
        self._faults.check("scan")
        async for page in self._inner.scan(page_size=page_size):
            yield page

    async def ping(self) -> None:
        self._faults.check("ping")
        await self._inner.ping()


class FailingBlobStore:
    def __init__(self, inner: BlobStore, faults: Faults) -> None:
        self._inner = inner
        self._faults = faults

    async def presign_upload(
        self, key: str, *, size: int, content_type: str, sha256: str | None, expires_in: int
    ) -> UploadTarget:
        self._faults.check("presign_upload")
        return await self._inner.presign_upload(
            key, size=size, content_type=content_type, sha256=sha256, expires_in=expires_in
        )

    async def presign_download(self, key: str, *, filename: str, expires_in: int) -> str:
        self._faults.check("presign_download")
        return await self._inner.presign_download(key, filename=filename, expires_in=expires_in)

    async def head(self, key: str) -> BlobInfo | None:
        self._faults.check("head")
        return await self._inner.head(key)

    async def delete(self, key: str) -> None:
        self._faults.check("delete")
        await self._inner.delete(key)

    async def copy(self, source_key: str, dest_key: str) -> None:
        self._faults.check("copy")
        await self._inner.copy(source_key, dest_key)

    async def confirm(self, key: str) -> None:
        self._faults.check("confirm")
        await self._inner.confirm(key)

    async def start_multipart(
        self, key: str, *, content_type: str, part_checksums: bool = False
    ) -> str:
        self._faults.check("start_multipart")
        return await self._inner.start_multipart(
            key, content_type=content_type, part_checksums=part_checksums
        )

    async def presign_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        size: int,
        expires_in: int,
        sha256: str | None = None,
    ) -> PartTarget:
        self._faults.check("presign_part")
        return await self._inner.presign_part(
            key, upload_id, part_number, size=size, expires_in=expires_in, sha256=sha256
        )

    async def uploaded_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        self._faults.check("uploaded_parts")
        return await self._inner.uploaded_parts(key, upload_id)

    async def complete_multipart(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[tuple[int, str]],
        *,
        checksums: Mapping[int, str] | None = None,
    ) -> BlobInfo:
        self._faults.check("complete_multipart")
        return await self._inner.complete_multipart(key, upload_id, parts, checksums=checksums)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        self._faults.check("abort_multipart")
        await self._inner.abort_multipart(key, upload_id)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        self._faults.check("read")
        async for chunk in self._inner.read(key):
            yield chunk

    async def write(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str, sha256: str
    ) -> None:
        self._faults.check("write")
        await self._inner.write(key, chunks, content_type=content_type, sha256=sha256)

    async def ping(self) -> None:
        self._faults.check("ping")
        await self._inner.ping()


def failing_deps(
    data_dir: Path, item_faults: Faults, blob_faults: Faults, aws: AwsApp | None = None
) -> Deps:
    """The deps (local, or the AWS composition on ``aws``), with every store reached through
    a failing wrapper — the services (built by the composition root's build_services), the
    sign-in routes (local) and readiness."""
    base = build_deps(load_settings(data_dir=data_dir, **(aws.settings if aws else {})))
    settings = base.settings
    items = FailingItemStore(base.items, item_faults)
    blobs = FailingBlobStore(base.blobs, blob_faults)
    services = build_services(settings, items, blobs, b"error-masking-cursor-key-0123456789abcdef")
    idp = None
    if aws is None:
        # Same key file as the verifier's, so its tokens verify; its store is the failing one.
        idp = DevIdentityProvider(
            items,
            data_dir / DEV_IDP_KEY_FILE,
            settings.dev_issuer,
            settings.dev_client_id,
            hasher=ScryptHasher(n=2**8),
        )
    return Deps(
        settings, items, blobs, base.verifier, services, idp, base.local_blobs, base.closers
    )


@dataclass
class Harness:
    http: httpx.AsyncClient
    idp: DevIdentityProvider | None  # None on AWS: Cognito issues the tokens
    items: Faults
    blobs: Faults
    capsys: pytest.CaptureFixture[str]
    aws: AwsApp | None = None
    bearer: str = ""
    output: str = ""

    async def sign_in(self) -> dict[str, str]:
        if self.aws is not None:
            self.bearer = self.aws.token("alice")
        else:
            assert self.idp is not None
            self.bearer = (await self.idp.issue_tokens_for("alice", ())).id_token
        return {"Authorization": f"Bearer {self.bearer}"}

    async def ready_file(self, auth: dict[str, str]) -> str:
        body = {"name": "a.txt", "contentType": "text/plain", "size": 5}
        created = await self.http.post("/rest/files", json=body, headers=auth)
        target = created.json()["upload"]
        if target["method"] == "POST":  # S3's presigned form
            assert send_to_s3(target, b"hello").is_success
        else:
            await self.http.put(target["url"], content=b"hello", headers=target["headers"])
        file_id: str = created.json()["file"]["id"]
        done = await self.http.post(f"/rest/files/{file_id}/complete", headers=auth)
        assert done.status_code == 200, done.text
        return file_id

    def log_lines(self) -> list[dict[str, Any]]:
        captured = self.capsys.readouterr()
        self.output += captured.out + captured.err
        return [json.loads(line) for line in self.output.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def masking_stack() -> Iterator[AwsApp]:
    """One AWS stack for the module's aws cases: each case's data is its own (a file it
    makes), and a stack per case would cost a Cognito pool, a table and a bucket each."""
    with aws_stack() as app:
        yield app


@pytest.fixture
async def harness(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], backend: str, request: pytest.FixtureRequest
) -> AsyncIterator[Harness]:
    aws: AwsApp | None = request.getfixturevalue("masking_stack") if backend == AWS else None
    item_faults, blob_faults = Faults(), Faults()
    made_before = len(aws_clients.created_clients())
    deps = failing_deps(tmp_path, item_faults, blob_faults, aws)
    app = build_app(deps.settings, deps)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield Harness(http, deps.dev_idp, item_faults, blob_faults, capsys, aws)
    finally:
        await deps.aclose()
        # The composition root keeps every boto3 client it built; one app per case here.
        del aws_clients._created[made_before:]


# Each surface: prepare what it needs, arm the failure, send the request that meets it.
Surface = Callable[[Harness, Failure], Awaitable[httpx.Response]]
CREATE_UPLOAD = """mutation($input: CreateUploadInput!) {
  createUpload(input: $input) { file { id } upload { url } } }"""
UPLOAD_INPUT = {"input": {"name": "b.txt", "contentType": "text/plain", "size": 3}}


async def graphql_signed_in_context(h: Harness, failure: Failure) -> httpx.Response:
    auth = await h.sign_in()
    h.items.arm(failure, "get_many")  # the profile lookup every signed-in request makes
    return await h.http.post("/graphql", json={"query": "{ me { username } }"}, headers=auth)


async def graphql_query(h: Harness, failure: Failure) -> httpx.Response:
    auth = await h.sign_in()
    h.items.arm(failure, "query")
    query = "{ myFiles { edges { node { id } } } }"
    return await h.http.post("/graphql", json={"query": query}, headers=auth)


async def graphql_mutation(h: Harness, failure: Failure) -> httpx.Response:
    auth = await h.sign_in()
    h.items.arm(failure, "write")
    body = {"query": CREATE_UPLOAD, "variables": UPLOAD_INPUT}
    return await h.http.post("/graphql", json=body, headers=auth)


async def graphql_blob_presign(h: Harness, failure: Failure) -> httpx.Response:
    auth = await h.sign_in()
    h.blobs.arm(failure, "presign_upload")
    body = {"query": CREATE_UPLOAD, "variables": UPLOAD_INPUT}
    return await h.http.post("/graphql", json=body, headers=auth)


async def graphql_download_url(h: Harness, failure: Failure) -> httpx.Response:
    auth = await h.sign_in()
    file_id = await h.ready_file(auth)
    h.blobs.arm(failure, "presign_download")
    body = {
        "query": "query($id: ID!) { file(id: $id) { downloadUrl } }",
        "variables": {"id": file_id},
    }
    return await h.http.post("/graphql", json=body, headers=auth)


async def rest_me(h: Harness, failure: Failure) -> httpx.Response:
    auth = await h.sign_in()
    h.items.arm(failure, "get_many")
    return await h.http.get("/rest/me", headers=auth)


async def rest_create(h: Harness, failure: Failure) -> httpx.Response:
    auth = await h.sign_in()
    h.blobs.arm(failure, "presign_upload")
    body = {"name": "c.txt", "contentType": "text/plain", "size": 3}
    return await h.http.post("/rest/files", json=body, headers=auth)


async def rest_download(h: Harness, failure: Failure) -> httpx.Response:
    auth = await h.sign_in()
    file_id = await h.ready_file(auth)
    h.blobs.arm(failure, "presign_download")
    return await h.http.get(f"/rest/files/{file_id}/download", headers=auth)


async def auth_token(h: Harness, failure: Failure) -> httpx.Response:
    signed_up = await h.http.post("/auth/signup", json={"username": "bob", "password": PASSWORD})
    assert signed_up.status_code == 201, signed_up.text
    h.items.arm(failure, "get_many")
    return await h.http.post("/auth/token", json={"username": "bob", "password": PASSWORD})


async def auth_signup(h: Harness, failure: Failure) -> httpx.Response:
    h.items.arm(failure, "write")
    return await h.http.post("/auth/signup", json={"username": "carol", "password": PASSWORD})


async def readyz_items(h: Harness, failure: Failure) -> httpx.Response:
    h.items.arm(failure, "ping")
    return await h.http.get("/readyz")


async def readyz_blobs(h: Harness, failure: Failure) -> httpx.Response:
    h.blobs.arm(failure, "ping")
    return await h.http.get("/readyz")


SURFACES: dict[str, Surface] = {
    "graphql-context": graphql_signed_in_context,
    "graphql-query": graphql_query,
    "graphql-mutation": graphql_mutation,
    "graphql-blob-presign": graphql_blob_presign,
    "graphql-download-url": graphql_download_url,
    "rest-me": rest_me,
    "rest-create": rest_create,
    "rest-download": rest_download,
    "readyz-items": readyz_items,
    "readyz-blobs": readyz_blobs,
}
# The local sign-in's routes: Cognito mode has none (test_cognito_mode_serves_no_auth_routes).
SIGN_IN_SURFACES: dict[str, Surface] = {"auth-token": auth_token, "auth-signup": auth_signup}


def body_request_id(surface: str, response: httpx.Response) -> str:
    """The request id the body carries (GraphQL extensions, the REST/auth error object);
    /readyz names only the failed dependency, its id is in the header."""
    body = response.json()
    if surface.startswith("graphql"):
        [error] = body["errors"]
        assert (error["message"], error["extensions"]["code"]) == (
            "Internal server error",
            "INTERNAL_SERVER_ERROR",
        )
        return str(error["extensions"]["requestId"])
    if surface.startswith("readyz"):
        assert response.status_code == 503
        assert body["status"] == "unavailable"
        assert set(body["checks"].values()) == {"ok", "unavailable"}
        return response.headers["x-request-id"]
    assert response.status_code == 500
    assert body == {
        "error": {
            "code": "INTERNAL_SERVER_ERROR",
            "message": "Internal server error",
            "requestId": body["error"]["requestId"],
        }
    }
    return str(body["error"]["requestId"])


@pytest.mark.parametrize("failure_name", FAILURES)
@pytest.mark.parametrize("surface", SURFACES)
async def test_failures_are_masked_and_logged_once(
    harness: Harness, surface: str, failure_name: str
) -> None:
    await check_masked(harness, surface, SURFACES[surface], failure_name)


@pytest.mark.local_only("the local sign-in's /auth routes: Cognito mode serves none")
@pytest.mark.parametrize("failure_name", FAILURES)
@pytest.mark.parametrize("surface", SIGN_IN_SURFACES)
async def test_sign_in_failures_are_masked_and_logged_once(
    harness: Harness, surface: str, failure_name: str
) -> None:
    await check_masked(harness, surface, SIGN_IN_SURFACES[surface], failure_name)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/auth/signup"),
        ("POST", "/auth/token"),
        ("POST", "/auth/signout"),
        ("POST", "/auth/password"),
        ("GET", "/auth/.well-known/jwks.json"),
    ],
)
async def test_cognito_mode_serves_no_auth_routes(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, method: str, path: str
) -> None:
    """The documented difference: on AWS, Cognito signs users up and in, and the app has no
    /auth routes to fail, so the sign-in masking cases above are local only. Locally the
    same requests reach the sign-in (whatever it answers, it is not a 404)."""
    aws: AwsApp | None = request.getfixturevalue("masking_stack") if backend == AWS else None
    made_before = len(aws_clients.created_clients())
    deps = build_deps(load_settings(data_dir=tmp_path, **(aws.settings if aws else {})))
    try:
        assert (deps.dev_idp is None) == (aws is not None)
        transport = httpx.ASGITransport(app=build_app(deps.settings, deps))
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            body = {"username": "bob", "password": PASSWORD} if method == "POST" else None
            response = await http.request(method, path, json=body)
    finally:
        await deps.aclose()
        del aws_clients._created[made_before:]
    assert "Traceback" not in response.text
    if aws is not None:
        assert response.status_code == 404, response.text
    else:
        assert response.status_code != 404, response.text


async def check_masked(harness: Harness, surface: str, send: Surface, failure_name: str) -> None:
    response = await send(harness, FAILURES[failure_name])
    assert harness.items.raised or harness.blobs.raised, "the planted failure never happened"

    for leak in LEAKS:
        assert leak not in response.text, f"{leak!r} reached the caller"
    request_id = body_request_id(surface, response)
    assert request_id == response.headers["x-request-id"]

    lines = [
        line
        for line in harness.log_lines()
        if request_id in (line.get("request_id"), line.get("correlation_id"))
    ]
    reported = [line for line in lines if line["level"] in ("WARNING", "ERROR", "CRITICAL")]
    assert len(reported) == 1, reported
    [logged] = reported
    assert logged["request_id"] == logged["correlation_id"] == request_id
    assert logged.get("exception_name")
    if "exception" in logged:  # operators get the details the caller did not
        detail = "REDACTED" if failure_name == "token" else "marker"
        assert detail in logged["exception"], logged["exception"]
    # Tokens are redacted in the log too (the caller's and any inside an error message).
    assert TOKEN not in harness.output and "token-marker" not in harness.output
    if harness.bearer:
        assert harness.bearer not in harness.output


# --- the real adapters translate their drivers' errors ------------------------------------

ADAPTER_LEAKS = (
    "sqlite",
    "SELECT",
    "database",
    "locked",
    "malformed",
    "ResourceNotFound",
    "An error occurred",
    "no-such-table",
    "no-such-bucket",
    "/tmp",
    "Traceback",
)


def assert_translated(raised: pytest.ExceptionInfo[Exception]) -> None:
    message = str(raised.value)
    for leak in ADAPTER_LEAKS:
        assert leak.lower() not in message.lower(), message


def items_in(path: Path, **options: Any) -> SqliteItemStore:
    return SqliteItemStore(path, **options)


def corrupt(path: Path) -> Path:
    """A file that starts like a database and is garbage after (no WAL beside it)."""
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    path.write_bytes(b"SQLite format 3\x00" + b"\xde\xad\xbe\xef" * 1024)
    return path


@pytest.fixture
def corrupt_db(tmp_path: Path) -> Path:
    return corrupt(tmp_path / "items.sqlite3")


async def test_sqlite_on_a_corrupt_file_raises_only_store_unavailable(corrupt_db: Path) -> None:
    store = items_in(corrupt_db)
    try:
        for call in (
            store.ping(),
            store.get_many([Key("USER#a", "META")]),
            store.query("USER#a"),
            store.write([Put({"pk": "USER#a", "sk": "META"})]),
        ):
            with pytest.raises(StoreUnavailableError) as raised:
                await call
            assert_translated(raised)
    finally:
        await store.close()


async def test_sqlite_held_by_another_writer_raises_only_store_unavailable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "items.sqlite3"
    store = items_in(path, busy_timeout=0.2)
    await store.write([Put({"pk": "USER#a", "sk": "META"})])
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # another process mid-transaction on the same file
        with pytest.raises(StoreUnavailableError) as raised:
            await store.write([Put({"pk": "USER#b", "sk": "META"})])
        assert_translated(raised)
    finally:
        other.execute("ROLLBACK")
        other.close()
        await store.close()


async def test_the_app_on_a_corrupt_database_answers_masked_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = build_deps(load_settings(data_dir=tmp_path))
    assert first.dev_idp is not None
    token = (await first.dev_idp.issue_tokens_for("alice", ())).id_token
    await first.aclose()
    corrupt(tmp_path / "items.sqlite3")
    deps = build_deps(load_settings(data_dir=tmp_path))  # same IdP key: the token verifies
    app = build_app(deps.settings, deps)
    auth = {"Authorization": f"Bearer {token}"}
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            ready = await http.get("/readyz")
            me = await http.post("/graphql", json={"query": "{ me { username } }"}, headers=auth)
            rest = await http.get("/rest/me", headers=auth)
    finally:
        await deps.aclose()
    assert ready.status_code == 503
    assert ready.json()["checks"]["store"] == "unavailable"
    assert me.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert rest.status_code == 500
    for response in (ready, me, rest):
        for leak in (*LEAKS, *ADAPTER_LEAKS):
            assert leak not in response.text, (leak, response.text)
    assert token not in capsys.readouterr().out


# On moto's server (the shared one, over HTTP), not mock_aws: mock_aws resets the in-process
# backends that server serves, which would drop the tables other cases are using.


async def test_dynamodb_with_a_missing_table_raises_only_store_unavailable() -> None:
    from adapters.items.dynamodb.store import DynamoDbItemStore

    client = shared_clients(shared_moto_server())[0]
    store = DynamoDbItemStore(client, "no-such-table", max_retries=1, base_delay=0.01)
    for call in (
        store.ping(),
        store.get_many([Key("USER#a", "META")]),
        store.query("USER#a"),
        store.write([Put({"pk": "USER#a", "sk": "META"})]),
    ):
        with pytest.raises(StoreUnavailableError) as raised:
            await call
        assert_translated(raised)


async def test_s3_with_a_missing_bucket_raises_only_store_unavailable() -> None:
    from adapters.blobs.s3 import S3BlobStore

    store = S3BlobStore(shared_clients(shared_moto_server())[1], "no-such-bucket")
    for call in (store.ping(), store.confirm("files/x")):
        with pytest.raises((StoreUnavailableError, NotFoundError)) as raised:
            await call
        assert_translated(raised)


@pytest.mark.local_only("the local sign-in's /auth routes: Cognito mode serves none")
@pytest.mark.parametrize("declared", [b"\xb2", b"1\xb3", b"-1", b"0x10"])
@pytest.mark.parametrize("route", ["/auth/signup", "/auth/token"])
async def test_a_bad_content_length_is_the_callers_error_not_a_masked_one(
    harness: Harness, route: str, declared: bytes
) -> None:
    # Header bytes are latin-1: "\xb2" is "²", which str.isdigit() accepts and int() refuses.
    headers = [(b"content-type", b"application/json"), (b"content-length", declared)]
    response = await harness.http.post(route, content=b"{}", headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_USER_INPUT"
    assert not [line for line in harness.log_lines() if line["level"] == "ERROR"]
