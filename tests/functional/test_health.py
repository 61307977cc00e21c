"""Readiness names the dependency that failed, within a bound; liveness does not care."""

from pathlib import Path

import httpx

from adapters.items.memory import InMemoryItemStore
from api.app import build_app
from api.bootstrap import build_deps
from api.settings import load_settings
from domain.errors import StoreUnavailableError


class UnreachableStore(InMemoryItemStore):
    async def ping(self) -> None:
        raise StoreUnavailableError("The item store is unavailable")


async def test_readiness_reports_which_store_failed(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    deps = build_deps(settings)
    await deps.aclose()  # the SQLite store is replaced; only the blob store is real
    deps.items = UnreachableStore()
    deps.closers.clear()
    app = build_app(settings, deps)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ready = await client.get("/readyz")
        alive = await client.get("/healthz")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "checks": {"store": "unavailable", "blobs": "ok"},
        "breakers": {"items": "closed", "blobs": "closed", "jwks": "closed"},
    }
    assert alive.status_code == 200
