"""Realtime: fileEvents over graphql-transport-ws on the real local server.

- Fan-out: SUBSCRIBERS WebSocket connections over USERS users (each with one unfiltered
  fileEvents subscription), then MUTATIONS updateFile calls one after another, round-robin
  over the users' files. Each mutation's event reaches that user's subscribers only
  (routing by audience, no broadcast). Figures: p50/p95 from the mutation's HTTP response
  to each subscriber receiving its event (negative when the event beats the response),
  events delivered per second over the run, events lost (must be 0).
- Idle memory: the server's RSS before and after IDLE more acknowledged connections with a
  subscription each, scaled to 1,000 connections.

Bounded: every wait has a timeout; connections and mutations are fixed counts.
Run: `.venv/bin/python -m bench.realtime [--quick]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.figures import Figure
from tests.support.server_process import running_server

USERS = 20
SUBSCRIBERS = 200
MUTATIONS = 100
IDLE = 1000
PASSWORD = "realtime bench password"
SUBSCRIBE = {"query": "subscription { fileEvents { kind fileId version file { description } } }"}
CREATE = """mutation($input: CreateUploadInput!) { createUpload(input: $input) { file { id } } }"""
UPDATE = "mutation($id: ID!, $d: String) { updateFile(input: {id: $id, description: $d}) { id } }"
TIMEOUT = 30.0


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def sign_in(http: httpx.AsyncClient, name: str) -> str:
    await http.post("/auth/signup", json={"username": name, "password": PASSWORD})
    tokens = await http.post("/auth/token", json={"username": name, "password": PASSWORD})
    return str(tokens.json()["idToken"])


async def subscriber(url: str, token: str) -> ClientConnection:
    ws = await connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] == "connection_ack"
    await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": SUBSCRIBE}))
    return ws


async def listen(ws: ClientConnection, arrivals: dict[str, list[float]]) -> None:
    async for raw in ws:
        message = json.loads(raw)
        if message["type"] == "next":
            description = message["payload"]["data"]["fileEvents"]["file"]["description"]
            arrivals.setdefault(description, []).append(time.perf_counter())


@dataclass
class RealtimeResult:
    subscribers: int
    users: int
    mutations: int
    p50_ms: float
    p95_ms: float
    events_per_second: float
    delivered: int
    expected: int
    idle: int
    mib_per_thousand: float


async def run(
    base_url: str, pid: int, users: int, subscribers: int, mutations: int, idle: int
) -> RealtimeResult:
    ws_url = base_url.replace("http://", "ws://") + "/graphql"
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as http:
        tokens = [await sign_in(http, f"rt{n}") for n in range(users)]
        files = []
        for token in tokens:
            created = await http.post(
                "/graphql",
                json={
                    "query": CREATE,
                    "variables": {
                        "input": {"name": "a.txt", "contentType": "text/plain", "size": 1}
                    },
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            files.append(created.json()["data"]["createUpload"]["file"]["id"])
        sockets = [await subscriber(ws_url, tokens[n % users]) for n in range(subscribers)]
        arrivals: dict[str, list[float]] = {}
        listeners = [asyncio.create_task(listen(ws, arrivals)) for ws in sockets]
        await asyncio.sleep(0.5)
        responded: dict[str, float] = {}
        started = time.perf_counter()
        for n in range(mutations):
            owner = n % users
            answer = await http.post(
                "/graphql",
                json={"query": UPDATE, "variables": {"id": files[owner], "d": f"m{n}"}},
                headers={"Authorization": f"Bearer {tokens[owner]}"},
            )
            responded[f"m{n}"] = time.perf_counter()
            assert not answer.json().get("errors"), answer.text
        expected = mutations * (subscribers // users)
        deadline = time.monotonic() + TIMEOUT
        # Bounded poll of counters the listeners fill.
        while sum(len(v) for v in arrivals.values()) < expected and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        finished = max((t for v in arrivals.values() for t in v), default=time.perf_counter())
        delivered = sum(len(v) for v in arrivals.values())
        latencies = sorted(
            (t - responded[key]) * 1000 for key, times in arrivals.items() for t in times
        )
        p50 = statistics.median(latencies)
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        print(f"fan-out: {subscribers} subscribers over {users} users, {mutations} mutations")
        print(f"  mutation response -> event: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        print(
            f"  events delivered: {delivered} of {expected}; "
            f"{delivered / (finished - started):.0f} events/s"
        )
        for task in listeners:
            task.cancel()
        for ws in sockets:
            await ws.close()
        await asyncio.sleep(0.5)

        before = rss_kib(pid)
        idle_sockets = [await subscriber(ws_url, tokens[n % users]) for n in range(idle)]
        await asyncio.sleep(1.0)
        after = rss_kib(pid)
        per_thousand = (after - before) / 1024 * 1000 / idle
        print(
            f"idle: {idle} connections, RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB; "
            f"{per_thousand:.1f} MiB per 1,000 connections"
        )
        for ws in idle_sockets:
            await ws.close()
    return RealtimeResult(
        subscribers,
        users,
        mutations,
        p50,
        p95,
        delivered / (finished - started),
        delivered,
        expected,
        idle,
        per_thousand,
    )


def figures(result: RealtimeResult, command: str) -> list[Figure]:
    shape = (
        f"{result.subscribers} subscribers over {result.users} users, {result.mutations} mutations"
    )
    return [
        Figure(
            name="realtime local: mutation response -> event p95",
            what=f"{shape}; p50 {result.p50_ms:.1f} ms",
            command=command,
            value=round(result.p95_ms, 1),
            unit="ms",
        ),
        Figure(
            name="realtime local: events per second",
            what=f"{shape}; events delivered to subscribers",
            command=command,
            value=round(result.events_per_second),
            unit="events/s",
            higher_is_better=True,
        ),
        Figure(
            name="realtime local: events lost",
            what=f"{shape}; expected {result.expected}",
            command=command,
            value=result.expected - result.delivered,
            unit="events",
            target=0,
        ),
        Figure(
            name="realtime local: RSS per 1,000 idle connections",
            what=f"server RSS growth over {result.idle} idle subscribed connections, scaled",
            command=command,
            value=round(result.mib_per_thousand, 1),
            unit="MiB",
        ),
    ]


def measure(quick: bool) -> RealtimeResult:
    users, subscribers, mutations, idle = (
        (10, 20, 10, 100) if quick else (USERS, SUBSCRIBERS, MUTATIONS, IDLE)
    )
    env = {
        "DEMOBACKEND_LOG_LEVEL": "WARNING",
        "DEMOBACKEND_SUBSCRIPTION_CONNECTIONS_PER_USER": str(IDLE),
        "DEMOBACKEND_METRICS_ENDPOINT": "false",
    }
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "data", **env) as server:
        pid = server.process.pid
        return asyncio.run(run(server.base_url, pid, users, subscribers, mutations, idle))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a smoke run: a tenth of it")
    measure(parser.parse_args().quick)


if __name__ == "__main__":
    main()
