"""Sign-out everywhere reaches WebSocket connections: a token issued before the sign-out
cannot open one (the real server process, over a raw socket)."""

import asyncio
import json

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.realtime.support import User, signed_in
from tests.support.server_process import RunningServer

pytestmark = pytest.mark.asyncio


async def init_outcome(server: RunningServer, user: User) -> tuple[str, int | None]:
    """("ack", None), or ("closed", close code)."""
    url = server.base_url.replace("http://", "ws://", 1) + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=5) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": user.params}))
        try:
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if message["type"] == "connection_ack":
                    return "ack", None
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return "closed", closed.rcvd.code


async def test_a_token_from_before_sign_out_cannot_open_a_socket(server: RunningServer) -> None:
    erin, frank = signed_in(server.base_url, "erin"), signed_in(server.base_url, "frank")
    assert await init_outcome(server, erin) == ("ack", None)

    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.post("/auth/signout", headers=erin.params)
    assert response.status_code == 204

    assert await init_outcome(server, erin) == ("closed", 4403)
    assert await init_outcome(server, frank) == ("ack", None)
