"""The AWS realtime path in process: the WebSocket and stream functions' handlers on the AWS
composition, with DynamoDB, S3, Cognito and API Gateway's Management API on the process's
moto server over real HTTP.

The test plays API Gateway and the event source mapping, the two parts moto cannot run:
``Sockets`` invokes ``$connect``/``$default``/``$disconnect`` as API Gateway would and reads
what PostToConnection delivered from moto's connection buffers; ``StreamFeed`` reads the
items table's real DynamoDB Stream (moto's GetRecords) and hands the records, in Lambda's
event shape, to the stream handler.

moto is kinder than AWS in one place: PostToConnection to any id succeeds. AWS answers
GoneException (410) for a socket that has closed; ``ApiGatewayEdge`` injects exactly that,
at the client's edge (a botocore before-call hook), for connections dropped or closed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import boto3
import pytest
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

from adapters.realtime.apigw import ApiGatewayConnections
from api.bootstrap import build_deps, build_realtime
from api.lambda_handler import LambdaHandler
from api.realtime_aws.handler import RealtimeHandlers
from api.settings import load_settings
from ops.aws_resources import create_table
from ops.emulated_aws import provision
from tests.support.apigw_events import LambdaContext
from tests.support.aws_path import AwsPath
from tests.support.moto_server import (
    REGION,
    cognito_client,
    dynamodb_client,
    s3_client,
    shared_moto_server,
    unique_name,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_ACCOUNT = "123456789012"  # moto's default account
_DUMMY = "testing"
EVENT_FIELDS = "kind fileId version file { id name status downloadUrl }"
ALL_EVENTS = f"subscription {{ fileEvents {{ {EVENT_FIELDS} }} }}"
ONE_FILE = f"subscription($id: ID) {{ fileEvents(fileId: $id) {{ {EVENT_FIELDS} }} }}"


class ApiGatewayEdge:
    """What API Gateway knows that moto does not: which sockets are still open. Posts to
    any other connection answer GoneException (410), as AWS does; DeleteConnection closes.
    ``received`` reads what PostToConnection delivered to moto's per-connection buffer."""

    def __init__(self, client: Any) -> None:
        self.connected: set[str] = set()
        self._read: dict[str, int] = {}
        events: Any = client.meta.events  # a hook may answer in place of AWS
        events.register("before-call.apigatewaymanagementapi.PostToConnection", self._gone)
        events.register("before-call.apigatewaymanagementapi.DeleteConnection", self._closed)

    def _gone(self, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        connection_id = _connection_of(params)
        if connection_id in self.connected:
            return None
        error = {"Code": "GoneException", "Message": f"{connection_id} is gone"}
        meta = {"HTTPStatusCode": 410, "HTTPHeaders": {}}
        return SimpleNamespace(status_code=410, headers={}), {
            "Error": error,
            "ResponseMetadata": meta,
        }

    def _closed(self, params: dict[str, Any], **_: Any) -> None:
        self.connected.discard(_connection_of(params))

    def received(self, connection_id: str) -> list[dict[str, Any]]:
        """Messages PostToConnection delivered since the last call."""
        backend = apigatewaymanagementapi_backends[_ACCOUNT][REGION]
        # moto files the buffer under the id as it appeared in the URL (percent-encoded).
        connection = backend.connections.get(quote(connection_id, safe=""))
        data = connection.data.decode("utf-8") if connection is not None else ""
        start = self._read.get(connection_id, 0)
        messages, decoder = [], json.JSONDecoder()
        while start < len(data):
            message, start = decoder.raw_decode(data, start)
            messages.append(message)
        self._read[connection_id] = start
        return messages


@dataclass
class Sockets:
    handlers: RealtimeHandlers
    edge: ApiGatewayEdge = field(init=False)

    def __post_init__(self) -> None:
        gateway = self.handlers.rt.gateway
        assert isinstance(gateway, ApiGatewayConnections)
        self.edge = ApiGatewayEdge(gateway.client)

    @property
    def connected(self) -> set[str]:
        return self.edge.connected

    def connect(self, protocol: str | None = "graphql-transport-ws") -> tuple[str, int]:
        connection_id = f"c{uuid.uuid4().hex[:14]}="
        headers = {"Sec-WebSocket-Protocol": protocol} if protocol else {}
        event = {
            "requestContext": {"routeKey": "$connect", "connectionId": connection_id},
            "headers": headers,
        }
        answer = self.handlers.websocket(event, LambdaContext())
        if answer["statusCode"] == 200:
            self.connected.add(connection_id)
        return connection_id, answer["statusCode"]

    def send(self, connection_id: str, message: dict[str, Any] | str) -> None:
        body = message if isinstance(message, str) else json.dumps(message)
        event = {
            "requestContext": {"routeKey": "$default", "connectionId": connection_id},
            "body": body,
        }
        assert self.handlers.websocket(event, LambdaContext()) == {"statusCode": 200}

    def disconnect(self, connection_id: str) -> None:
        self.connected.discard(connection_id)
        event = {"requestContext": {"routeKey": "$disconnect", "connectionId": connection_id}}
        self.handlers.websocket(event, LambdaContext())

    def drop(self, connection_id: str) -> None:
        """The client vanished; API Gateway's $disconnect has not reached us."""
        self.connected.discard(connection_id)

    def received(self, connection_id: str) -> list[dict[str, Any]]:
        return self.edge.received(connection_id)

    def sign_in(self, token: str) -> str:
        """A connection acknowledged for ``token``'s user."""
        connection_id, status = self.connect()
        assert status == 200
        self.send(
            connection_id,
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}},
        )
        assert self.received(connection_id) == [{"type": "connection_ack"}]
        return connection_id

    def subscribe(
        self, connection_id: str, sid: str, query: str = ALL_EVENTS, **variables: Any
    ) -> None:
        payload: dict[str, Any] = {"query": query}
        if variables:
            payload["variables"] = variables
        self.send(connection_id, {"id": sid, "type": "subscribe", "payload": payload})

    def registered(self, connection_id: str) -> bool:
        """Whether the connections table still holds this connection."""
        return _run(self.handlers.rt.registry.get(connection_id)) is not None


def _connection_of(params: dict[str, Any]) -> str:
    return unquote(str(params["url_path"]).rsplit("/", 1)[-1])


def _run(coroutine: Any) -> Any:
    from api.realtime_aws.handler import _event_loop

    return _event_loop().run_until_complete(coroutine)


@dataclass
class StreamFeed:
    """The items table's stream, read from where the feed was opened."""

    handlers: RealtimeHandlers
    streams: Any  # a dynamodbstreams client on moto's server
    stream_arn: str
    iterator: str

    @classmethod
    def open(
        cls, handlers: RealtimeHandlers, endpoint: str, dynamodb: DynamoDBClient, table: str
    ) -> StreamFeed:
        streams = boto3.client(
            "dynamodbstreams",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=_DUMMY,
            aws_secret_access_key=_DUMMY,
        )
        arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        assert len(shards) == 1, shards  # moto: one shard per table
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shards[0]["ShardId"], ShardIteratorType="LATEST"
        )["ShardIterator"]
        return cls(handlers, streams, arn, iterator)

    def records(self) -> list[dict[str, Any]]:
        """The records committed since the last call, in Lambda's event shape."""
        answer = self.streams.get_records(ShardIterator=self.iterator)
        self.iterator = answer["NextShardIterator"]
        records = []
        for record in answer["Records"]:
            body = dict(record["dynamodb"])
            when = body.get("ApproximateCreationDateTime")
            if isinstance(when, datetime):  # boto3 parses it; Lambda sends epoch seconds
                body["ApproximateCreationDateTime"] = when.timestamp()
            records.append({**record, "dynamodb": body, "eventSourceARN": self.stream_arn})
        return records

    def deliver(self, records: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Hand the records (default: everything new) to the stream handler."""
        batch = self.records() if records is None else records
        return self.handlers.stream({"Records": batch}, LambdaContext())


@dataclass
class RealtimeAws:
    api: AwsPath
    sockets: Sockets
    feed: StreamFeed

    def token(self, username: str) -> str:
        return self.api.tokens(username, email=f"{username}@example.com").id_token


@contextmanager
def realtime_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[RealtimeAws]:
    endpoint = shared_moto_server()
    dynamodb = dynamodb_client(endpoint)
    stack = provision(
        dynamodb=dynamodb,
        s3=s3_client(endpoint),
        cognito=cognito_client(endpoint),
        name=unique_name("rt"),
        region=REGION,
    )
    connections = unique_name("connections")
    create_table(dynamodb, connections)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, _DUMMY)
    for name, value in stack.settings_env(endpoint, REGION).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DEMOBACKEND_REALTIME_TABLE_NAME", connections)
    settings = load_settings()
    deps = build_deps(settings)
    handlers = RealtimeHandlers(build_realtime(settings, deps))
    feed = StreamFeed.open(handlers, endpoint, dynamodb, stack.table_name)
    api = AwsPath(stack, endpoint, LambdaHandler(deps))
    try:
        yield RealtimeAws(api, Sockets(handlers), feed)
    finally:
        dynamodb.delete_table(TableName=connections)
