"""Bad input on the socket, sent raw (the websockets library, no well-behaved client):
each gets the graphql-transport-ws close code or error message, the server stays up and
other connections are unaffected."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.realtime.support import ALL_EVENTS, User, signed_in
from tests.support.server_process import RunningServer

PROTOCOL = "graphql-transport-ws"
pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def dave(server: RunningServer) -> User:
    return signed_in(server.base_url, "dave")


@asynccontextmanager
async def socket(
    server: RunningServer, user: User | None = None
) -> AsyncIterator[ClientConnection]:
    url = server.base_url.replace("http://", "ws://", 1) + "/graphql"
    async with connect(url, subprotocols=[PROTOCOL], open_timeout=5) as ws:  # type: ignore[list-item]
        if user is not None:
            await send(ws, {"type": "connection_init", "payload": user.params})
            assert await receive(ws) == {"type": "connection_ack"}
        yield ws


async def send(ws: ClientConnection, message: Any) -> None:
    await ws.send(message if isinstance(message, str) else json.dumps(message))


async def receive(ws: ClientConnection) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if message["type"] != "ping":
            return message


async def close_code(ws: ClientConnection) -> tuple[int | None, str]:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        return closed.rcvd.code, closed.rcvd.reason


def subscribe(sub_id: str, query: str = ALL_EVENTS) -> dict[str, Any]:
    return {"type": "subscribe", "id": sub_id, "payload": {"query": query}}


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("{not json", 4400),
        ("[1, 2]", 4400),
        ('"connection_init"', 4400),
        ({"type": "launch_missiles"}, 4400),
        ({"type": 7}, 4400),
        ({"type": "subscribe", "id": 5, "payload": {"query": ALL_EVENTS}}, 4400),
        ({"type": "subscribe", "id": "1", "payload": "subscription { x }"}, 4400),
        ({"type": "subscribe", "id": "1", "payload": {"query": ["x"]}}, 4400),
        ({"type": "subscribe", "id": "1", "payload": {"query": "subscription {"}}, 4400),
        ({"type": "complete"}, 4400),
        ({"type": "subscribe", "id": "x" * 200, "payload": {"query": ALL_EVENTS}}, 4400),
    ],
)
async def test_malformed_messages_close_with_4400(
    server: RunningServer, dave: User, message: Any, code: int
) -> None:
    async with socket(server, dave) as ws:
        await send(ws, message)
        assert (await close_code(ws))[0] == code


async def test_subscribing_before_the_ack_closes_with_4401(server: RunningServer) -> None:
    async with socket(server) as ws:
        await send(ws, subscribe("early"))
        assert await close_code(ws) == (4401, "Unauthorized")


async def test_a_connection_never_initialised_closes_with_4408(server: RunningServer) -> None:
    async with socket(server) as ws:
        assert (await close_code(ws))[0] == 4408


async def test_a_second_connection_init_closes_with_4429(server: RunningServer, dave: User) -> None:
    async with socket(server, dave) as ws:
        await send(ws, {"type": "connection_init", "payload": dave.params})
        assert (await close_code(ws))[0] == 4429


async def test_a_duplicate_subscription_id_closes_with_4409(
    server: RunningServer, dave: User
) -> None:
    async with socket(server, dave) as ws:
        await send(ws, subscribe("same"))
        await send(ws, subscribe("same"))
        assert (await close_code(ws))[0] == 4409


async def test_an_oversized_message_closes_with_4400(server: RunningServer, dave: User) -> None:
    async with socket(server, dave) as ws:
        padding = " " * 5000  # the server's limit here is 4096 bytes
        await send(ws, subscribe("big", ALL_EVENTS + padding))
        assert await close_code(ws) == (4400, "Message exceeds 4096 bytes")


async def test_binary_frames_close_with_4400(server: RunningServer, dave: User) -> None:
    async with socket(server, dave) as ws:
        await ws.send(b'{"type": "ping"}')
        assert (await close_code(ws))[0] == 4400


async def test_queries_and_mutations_are_refused_over_the_socket(
    server: RunningServer, dave: User
) -> None:
    async with socket(server, dave) as ws:
        await send(ws, subscribe("q", "{ me { username } }"))
        await send(ws, subscribe("m", 'mutation { updateProfile(displayName: "x") { id } }'))
        answers = {(m := await receive(ws))["id"]: m for _ in range(2)}
        for answer in answers.values():
            assert answer["type"] == "error"
            assert answer["payload"][0]["extensions"]["code"] == "BAD_REQUEST"
    async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as http:
        me = await http.post(
            "/graphql",
            json={"query": "{ me { displayName } }"},
            headers={"Authorization": f"Bearer {dave.token}"},
        )
    assert me.json()["data"]["me"]["displayName"] != "x"  # the mutation never ran


async def test_a_subscribe_complete_flood_is_throttled_and_the_server_stays_up(
    server: RunningServer, dave: User
) -> None:
    async with socket(server, dave) as bystander, socket(server, dave) as flooder:
        await send(bystander, subscribe("calm"))
        for n in range(500):
            await send(flooder, subscribe(f"f{n}"))
            await send(flooder, {"type": "complete", "id": f"f{n}"})
        await send(flooder, {"type": "ping"})
        refused = 0
        while (message := await receive(flooder)) != {"type": "pong"}:  # still connected
            assert message["type"] == "error", message
            assert message["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
            refused += 1
        # The burst (10 messages) and a rate of 2 a second pass; the rest is refused.
        assert 450 <= refused < 500
        await send(bystander, {"type": "ping"})
        assert await receive(bystander) == {"type": "pong"}
    async with httpx.AsyncClient(timeout=5) as http:
        assert (await http.get(f"{server.base_url}/healthz")).status_code == 200
    assert server.process.poll() is None
    assert "Traceback" not in server.output()
