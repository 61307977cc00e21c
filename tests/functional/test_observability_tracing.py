"""Tracing is off by default, and then the X-Ray SDK (~300 ms of cold start) is never
imported; with TRACING on it is, and requests still succeed (Powertools disables the
recorder outside Lambda). Each case is a fresh interpreter."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import asyncio, json, sys
import httpx
from api.app import build_app
from api.settings import load_settings

async def main():
    app = build_app(load_settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        graphql = await client.post("/graphql", json={"query": "query Q { __typename }"})
        health = await client.get("/healthz")
    xray = sorted(name for name in sys.modules if name.startswith("aws_xray_sdk"))
    print(json.dumps({"statuses": [graphql.status_code, health.status_code], "xray": xray}))

asyncio.run(main())
"""


def run(tmp_path: Path, **env: str) -> dict[str, object]:
    environment = {k: v for k, v in os.environ.items() if k != "DEMOBACKEND_TRACING"}
    environment |= {"DEMOBACKEND_DATA_DIR": str(tmp_path), **env}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_tracing_off_never_imports_the_xray_sdk(tmp_path: Path) -> None:
    result = run(tmp_path)
    assert result == {"statuses": [200, 200], "xray": []}


def test_tracing_on_imports_it_and_requests_still_succeed(tmp_path: Path) -> None:
    result = run(tmp_path, DEMOBACKEND_TRACING="true")
    assert result["statuses"] == [200, 200]
    assert "aws_xray_sdk" in result["xray"]  # type: ignore[operator]
