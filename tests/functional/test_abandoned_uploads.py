"""Starting the local server removes bytes of uploads whose completion window has closed,
as the bucket's lifecycle rule does on AWS; completed files are never touched."""

import asyncio
import hashlib
import time
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from adapters.blobs.local.signing import load_or_create_signing_key
from adapters.blobs.local.store import LocalBlobStore
from api.app import build_app
from api.blob_routes import BLOBS_PATH, blob_routes
from api.bootstrap import BLOB_SIGNING_KEY_FILE, BLOBS_DIR
from api.settings import load_settings
from tests.support.blob_backends import every_key_open

THREE_DAYS = 3 * 86_400


async def _upload_at(store: LocalBlobStore, key: str, data: bytes) -> None:
    target = await store.presign_upload(
        key, size=len(data), content_type="text/plain", sha256=None, expires_in=600
    )
    blob_app = Starlette(routes=[Mount(BLOBS_PATH, routes=blob_routes(store, every_key_open))])
    transport = httpx.ASGITransport(app=blob_app)
    async with httpx.AsyncClient(transport=transport) as http:
        sent = await http.put(target.url, content=data, headers=target.headers)
    assert sent.status_code == 200, sent.text


async def test_server_start_sweeps_old_unconfirmed_uploads(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    key = load_or_create_signing_key(tmp_path / BLOB_SIGNING_KEY_FILE)
    long_ago = LocalBlobStore(
        tmp_path / BLOBS_DIR,
        base_url=settings.base_url,
        signing_key=key,
        clock=lambda: time.time() - THREE_DAYS,
    )
    long_ago.prepare()
    await _upload_at(long_ago, "files/abandoned/blob", b"never completed")
    await _upload_at(long_ago, "files/kept/blob", b"completed long ago")
    await long_ago.confirm("files/kept/blob")
    await _upload_at(
        long_ago.__class__(  # a fresh upload: still within its window
            tmp_path / BLOBS_DIR, base_url=settings.base_url, signing_key=key
        ),
        "files/fresh/blob",
        b"just sent",
    )

    app = build_app(settings)
    async with app.router.lifespan_context(app):
        for _ in range(100):
            if await long_ago.head("files/abandoned/blob") is None:
                break
            await asyncio.sleep(0.02)

    assert await long_ago.head("files/abandoned/blob") is None
    kept = await long_ago.head("files/kept/blob")
    assert kept is not None
    assert kept.sha256 == hashlib.sha256(b"completed long ago").hexdigest()
    assert await long_ago.head("files/fresh/blob") is not None
