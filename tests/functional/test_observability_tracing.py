"""Tracing is off by default, and then the X-Ray SDK (~300 ms of cold start) is never
imported; with TRACING on it is, and requests still succeed (Powertools disables the
recorder outside Lambda), and a request then becomes a ``## <route>`` subsegment annotated
with its route and status, caught by an in-memory emitter (the X-Ray daemon's UDP port is
never contacted: the socket calls that would reach it raise). Each case is a fresh
interpreter."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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


TRACED_SCRIPT = """
import asyncio, json, socket

def no_network(*args, **kwargs):
    raise AssertionError("the X-Ray daemon (or anything else) must not be contacted")

socket.socket.sendto = no_network
socket.socket.connect = no_network

import httpx
from api.app import build_app
from api.settings import load_settings

class InMemoryEmitter:
    def __init__(self):
        self.entities = []

    def send_entity(self, entity):
        self.entities.append(json.loads(entity.serialize()))

    def set_daemon_address(self, address):
        pass

async def main():
    app = build_app(load_settings())  # TRACING on: Powertools' Tracer is made here
    # Outside Lambda Powertools switches the SDK off; switch it back on, record every
    # request (no sampling rules: those would be fetched from the daemon) and keep the
    # finished segments in memory instead of sending them over UDP.
    from aws_xray_sdk import global_sdk_config
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.core.async_context import AsyncContext

    emitter = InMemoryEmitter()
    global_sdk_config.set_sdk_enabled(True)
    xray_recorder.configure(
        emitter=emitter, sampling=False, context=AsyncContext(), context_missing="RUNTIME_ERROR"
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        xray_recorder.begin_segment("test")  # what Lambda's facade segment is there
        graphql = await client.post("/graphql", json={"query": "query Q { __typename }"})
        xray_recorder.end_segment()
    print(json.dumps({"status": graphql.status_code, "entities": emitter.entities}))

asyncio.run(main())
"""


def run(tmp_path: Path, script: str = SCRIPT, **env: str) -> dict[str, object]:
    environment = {k: v for k, v in os.environ.items() if k != "DEMOBACKEND_TRACING"}
    environment |= {"DEMOBACKEND_DATA_DIR": str(tmp_path), **env}
    done = subprocess.run(
        [sys.executable, "-c", script],
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


def test_tracing_on_records_a_subsegment_per_request_with_its_route(tmp_path: Path) -> None:
    result = run(tmp_path, TRACED_SCRIPT, DEMOBACKEND_TRACING="true")
    assert result["status"] == 200
    entities: Any = result["entities"]
    assert [entity["name"] for entity in entities] == ["test"]  # one segment, sent once
    (segment,) = entities
    (subsegment,) = segment["subsegments"]
    assert subsegment["name"] == "## /graphql"
    assert subsegment["type"] == "subsegment"
    assert subsegment["parent_id"] == segment["id"]
    assert subsegment["trace_id"] == segment["trace_id"]
    assert subsegment["annotations"] == {"route": "/graphql", "status": 200}
    assert subsegment["end_time"] >= subsegment["start_time"]
    assert not subsegment["in_progress"]
