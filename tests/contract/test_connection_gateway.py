"""The ConnectionGateway contract: API Gateway's Management API (on moto's server, with
AWS's GoneException for closed sockets injected at the edge: tests/support/realtime_aws.py)
and the in-memory fake answer alike."""

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from adapters.realtime.apigw import ApiGatewayConnections
from adapters.realtime.memory import MemoryConnections
from domain.realtime import ConnectionGateway, ConnectionGoneError
from tests.support.moto_server import REGION, shared_moto_server
from tests.support.realtime_aws import ApiGatewayEdge


@dataclass
class Subject:
    gateway: ConnectionGateway
    connect: Any  # (connection_id) -> None: a client opens a socket
    received: Any  # (connection_id) -> list of messages since the last call


def _fake() -> Subject:
    fake = MemoryConnections()
    seen: dict[str, int] = {}

    def received(connection_id: str) -> list[dict[str, object]]:
        messages = fake.sent.get(connection_id, [])
        start, seen[connection_id] = seen.get(connection_id, 0), len(messages)
        return messages[start:]

    return Subject(fake, fake.connect, received)


def _api_gateway() -> Subject:
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=shared_moto_server(),
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    edge = ApiGatewayEdge(client)
    return Subject(ApiGatewayConnections(client), edge.connected.add, edge.received)


@pytest.fixture(params=["memory", "apigw"])
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    yield _fake() if request.param == "memory" else _api_gateway()


def test_messages_arrive_in_order_on_their_own_connection(subject: Subject) -> None:
    subject.connect("a1=")
    subject.connect("b2=")
    asyncio.run(subject.gateway.send("a1=", {"type": "connection_ack"}))
    asyncio.run(subject.gateway.send("a1=", {"id": "1", "type": "next", "payload": {"n": 1}}))
    assert subject.received("a1=") == [
        {"type": "connection_ack"},
        {"id": "1", "type": "next", "payload": {"n": 1}},
    ]
    assert subject.received("b2=") == []


def test_a_connection_never_opened_is_gone(subject: Subject) -> None:
    with pytest.raises(ConnectionGoneError) as raised:
        asyncio.run(subject.gateway.send("never=", {"type": "ping"}))
    assert raised.value.connection_id == "never="


def test_a_closed_connection_is_gone_and_closing_twice_is_fine(subject: Subject) -> None:
    subject.connect("c3=")
    asyncio.run(subject.gateway.close("c3=", 4403, "Forbidden"))
    asyncio.run(subject.gateway.close("c3=", 4403, "Forbidden"))
    with pytest.raises(ConnectionGoneError):
        asyncio.run(subject.gateway.send("c3=", {"type": "ping"}))
