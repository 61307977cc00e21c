"""The BlobStore backends the contract suite runs against, each reached the way a real
client reaches it: over HTTP on 127.0.0.1.

- ``local``: a LocalBlobStore in the test's tmp_path, its ``/blobs`` routes served by
  uvicorn in a thread (one server per test process; each test swaps in an app for its own
  store), so uploads cross a real socket: Content-Length, chunked bodies, early 413s.
- ``s3-moto``: the S3BlobStore against the shared moto server (tests/support/moto_server.py), a
  fresh bucket per test. moto checks no signatures, expiries or POST policies, so the
  suite asserts the policy document itself as well.

A test asks for ``blob_backend`` (every backend) or ``local_backend``/``s3_backend``;
``upload_state`` reads whether a backend records a blob as a pending or confirmed upload.
"""

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import httpx
import pytest
import uvicorn
from botocore.config import Config
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.blobs.local.signing import UrlSigner
from adapters.blobs.local.store import BLOBS_PATH, LocalBlobStore
from adapters.blobs.memory import InMemoryBlobStore
from adapters.blobs.s3 import S3BlobStore
from api.blob_routes import blob_routes
from api.request_ids import RequestIdMiddleware
from domain.ports import BlobStore, UploadTarget
from tests.support.clock import FakeClock
from tests.support.moto_server import REGION, shared_moto_server, unique_name

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SIGNING_KEY = bytes(range(32))
START_TIMEOUT_SECONDS = 10.0
HTTP_TIMEOUT_SECONDS = 10.0


@dataclass
class LocalParts:
    store: LocalBlobStore
    root: Path
    clock: FakeClock  # wall-clock time a test moves forward: URLs expire without sleeping
    signer: UrlSigner  # signs with the store's key: forges URLs a client could not make
    base_url: str


@dataclass
class S3Parts:
    client: "S3Client"
    bucket: str
    endpoint: str


@dataclass
class BlobBackend:
    name: str
    store: BlobStore
    http: httpx.AsyncClient
    # moto does not record the x-amz-checksum-sha256 of a POST upload (real S3 does), so
    # head() after an upload through S3-on-moto cannot know the hash.
    records_upload_sha256: bool
    # moto ignores the POST form's "tagging" field (real S3 stores it), so an object
    # uploaded through S3-on-moto carries no upload=pending tag.
    records_upload_tags: bool = True
    local: LocalParts | None = None
    s3: S3Parts | None = None


async def every_key_open(key: str) -> bool:
    """The store's own rules only: which keys a file waits for is the app's to say, and
    is tested with the app."""
    return True


def build_blob_app(store: LocalBlobStore) -> Starlette:
    """The blob routes as the app mounts them, every key open for upload."""
    app = Starlette(routes=[Mount(BLOBS_PATH, routes=blob_routes(store, every_key_open))])
    app.add_middleware(RequestIdMiddleware)
    return app


async def send_upload(
    http: httpx.AsyncClient, target: UploadTarget, body: bytes, url: str | None = None
) -> httpx.Response:
    """What a client does with an UploadTarget (docs/ARCHITECTURE.md "A mutation, end to end")."""
    if target.method == "POST":
        part_type = target.fields.get("Content-Type", "application/octet-stream")
        return await http.post(
            url or target.url, data=target.fields, files={"file": ("blob", body, part_type)}
        )
    assert target.method == "PUT" and target.fields == {}
    return await http.put(url or target.url, content=body, headers=target.headers)


async def upload_state(backend: BlobBackend, key: str) -> str | None:
    """ "pending" or "confirmed", as the store itself records the upload at ``key``; None
    when it records neither (an S3 object without the upload tag)."""
    if isinstance(backend.store, InMemoryBlobStore):
        assert key in backend.store.objects
        return "confirmed" if key in backend.store.confirmed else "pending"
    if backend.local is not None:
        name = key.rsplit("/", 1)[-1]
        meta_path = backend.local.root.joinpath(*key.split("/")).with_name(f".{name}.meta.json")
        meta = json.loads(await asyncio.to_thread(meta_path.read_bytes))
        return "confirmed" if meta["confirmed"] else "pending"
    assert backend.s3 is not None
    response = await asyncio.to_thread(
        backend.s3.client.get_object_tagging, Bucket=backend.s3.bucket, Key=key
    )
    values = [tag["Value"] for tag in response["TagSet"] if tag["Key"] == "upload"]
    assert len(values) <= 1 and len(response["TagSet"]) == len(values), response["TagSet"]
    return values[0] if values else None


async def tag_as_real_s3_would(backend: BlobBackend, key: str) -> None:
    """moto drops the POST "tagging" field; give the object the tag real S3 stores."""
    if backend.records_upload_tags:
        return
    assert backend.s3 is not None
    await asyncio.to_thread(
        backend.s3.client.put_object_tagging,
        Bucket=backend.s3.bucket,
        Key=key,
        Tagging={"TagSet": [{"Key": "upload", "Value": "pending"}]},
    )


def files_under(root: Path) -> list[Path]:
    """Every file (hidden ones included: metadata, temporaries) below ``root``."""
    return sorted(path for path in root.rglob("*") if not path.is_dir()) if root.exists() else []


# --- the local server -----------------------------------------------------------------


class _SwappableApp:
    """One uvicorn for the whole run; each test routes it to its own store's app."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no blob app installed for this test"
        await self.app(scope, receive, send)


@dataclass
class LocalServer:
    base_url: str
    dispatch: _SwappableApp


def _loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="session")
def local_blob_server() -> Iterator[LocalServer]:
    sock = _loopback_socket()
    dispatch = _SwappableApp()
    config = uvicorn.Config(dispatch, lifespan="off", access_log=False, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield LocalServer(f"http://127.0.0.1:{sock.getsockname()[1]}", dispatch)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


# --- backends -------------------------------------------------------------------------


def _http() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS)


async def local_backend_in(server: LocalServer, tmp_path: Path) -> AsyncIterator[BlobBackend]:
    root = tmp_path / "blobs"
    clock = FakeClock()
    store = LocalBlobStore(
        root,
        base_url=server.base_url,
        signing_key=SIGNING_KEY,
        clock=clock.seconds,
        max_expiry=3600,
    )
    store.prepare()
    server.dispatch.app = build_blob_app(store)
    parts = LocalParts(store, root, clock, UrlSigner(SIGNING_KEY), server.base_url)
    try:
        async with _http() as http:
            yield BlobBackend("local", store, http, records_upload_sha256=True, local=parts)
    finally:
        server.dispatch.app = None


def sigv4_s3_client(endpoint: str, extra: Config | None = None) -> "S3Client":
    """Like production's client: SigV4 explicitly (see S3BlobStore), path-style for an IP
    endpoint, dummy credentials that are valid nowhere."""
    config = Config(signature_version="s3v4", s3={"addressing_style": "path"})
    client: S3Client = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
        config=config.merge(extra) if extra is not None else config,
    )
    return client


async def _s3_backend() -> AsyncIterator[BlobBackend]:
    endpoint = shared_moto_server()
    client = sigv4_s3_client(endpoint)
    bucket = unique_name("blobs")
    client.create_bucket(Bucket=bucket)
    store = S3BlobStore(client, bucket, max_expiry=3600)
    async with _http() as http:
        yield BlobBackend(
            "s3-moto",
            store,
            http,
            records_upload_sha256=False,
            records_upload_tags=False,
            s3=S3Parts(client, bucket, endpoint),
        )


async def memory_backend() -> AsyncIterator[BlobBackend]:
    """The unit tests' fake, held to the same suite so it cannot drift."""
    store = InMemoryBlobStore(max_expiry=3600)
    transport = httpx.ASGITransport(app=store.asgi_app)
    async with httpx.AsyncClient(transport=transport, timeout=HTTP_TIMEOUT_SECONDS) as http:
        yield BlobBackend("memory", store, http, records_upload_sha256=True)


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("local", id="local"),
        pytest.param("s3-moto", id="s3-moto", marks=pytest.mark.slow),
    ]
)
async def blob_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[BlobBackend]:
    if request.param == "memory":
        async for backend in memory_backend():
            yield backend
    elif request.param == "local":
        server: LocalServer = request.getfixturevalue("local_blob_server")
        async for backend in local_backend_in(server, tmp_path):
            yield backend
    else:
        async for backend in _s3_backend():
            yield backend


@pytest.fixture
async def local_backend(
    local_blob_server: LocalServer, tmp_path: Path
) -> AsyncIterator[BlobBackend]:
    async for backend in local_backend_in(local_blob_server, tmp_path):
        yield backend


@pytest.fixture
async def s3_backend() -> AsyncIterator[BlobBackend]:
    async for backend in _s3_backend():
        yield backend
