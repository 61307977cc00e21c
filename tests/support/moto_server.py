"""moto on loopback, for every suite that talks to DynamoDB, S3 or Cognito over real HTTP.

``moto_server()`` runs one ThreadedMotoServer on 127.0.0.1 (a free port) and yields its
endpoint URL; ``shared_moto_server()`` (and the session fixture ``moto_endpoint``) start one
per test process on first use. ``dynamodb_client``/``s3_client``/``cognito_client`` build
clients with dummy credentials set explicitly and region us-east-1: with an endpoint they
talk to the server, without one they only work inside ``moto.mock_aws()``; neither reaches
the internet (nothing else is addressed, and the credentials are fake).

S3's per-part checksum rules, which moto does not enforce, are put in front of every
server (tests/support/s3_part_checksums.py).

Isolation: the threaded server keeps its state in moto's in-process backends, the very ones
``moto.mock_aws()`` uses, and mock_aws() wipes them when it starts and stops. So give every
test its own resources under ``unique_name()`` (or ``reset_moto()`` between tests) rather
than creating them once per session.
"""

from __future__ import annotations

import atexit
import copy
import io
import json
import logging
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from moto.core.common_models import BaseModel
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from tests.support.s3_part_checksums import S3PartChecksums

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient as CognitoClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

REGION = "us-east-1"
_DUMMY = "testing"  # access key, secret and session token: never valid anywhere
# Room for get_many's concurrent chunks (urllib3 would otherwise discard connections).
_CONFIG = Config(max_pool_connections=32, retries={"mode": "standard"})

_lock = threading.Lock()
_stack = ExitStack()
_shared_endpoint: str | None = None


_TRANSACTION_CONFLICT = "com.amazonaws.dynamodb.v20120810#TransactionCanceledException"
_WRITE_CONFLICT = "com.amazonaws.dynamodb.v20120810#TransactionConflictException"
_WRITES = (".PutItem", ".UpdateItem", ".DeleteItem")
_ONGOING = "Transaction is ongoing for the item"


class _TransactionsInFlight:
    """DynamoDB cancels a transaction that names an item another transaction is still
    writing (reason TransactionConflict), and refuses a lone write to such an item
    (TransactionConflictException); moto, serving one request at a time, never does. Here
    each transaction keeps its items "in flight" for ``window`` seconds after it was applied,
    so tests can meet those refusals as a loaded table produces them."""

    def __init__(self) -> None:
        self.window = 0.0
        self._busy_until: dict[tuple[str, str, str], float] = {}

    def conflict(self, target: str, request: dict[str, Any]) -> tuple[str, bytes] | None:
        """The refusal DynamoDB would answer, if any; records a transaction's items."""
        if self.window <= 0:
            return None
        now = time.monotonic()
        if target.endswith(".TransactWriteItems"):
            keys = [_item_key(next(iter(entry.values()))) for entry in request["TransactItems"]]
            busy = [key in self._busy_until and now < self._busy_until[key] for key in keys]
            if any(busy):
                reasons = [
                    {
                        "Code": "TransactionConflict",
                        "Message": "Transaction is ongoing for the item",
                    }
                    if hit
                    else {"Code": "None"}
                    for hit in busy
                ]
                body = {
                    "__type": _TRANSACTION_CONFLICT,
                    "Message": "Transaction cancelled, please refer cancellation reasons",
                    "CancellationReasons": reasons,
                }
                return "400 Bad Request", json.dumps(body).encode()
            for key in keys:
                self._busy_until[key] = now + self.window
        elif target.endswith(_WRITES):
            key = _item_key(request)
            if key in self._busy_until and now < self._busy_until[key]:
                body = {"__type": _WRITE_CONFLICT, "Message": _ONGOING}
                return "400 Bad Request", json.dumps(body).encode()
        return None


def _item_key(operation: dict[str, Any]) -> tuple[str, str, str]:
    # The app's table keys on pk and sk (infra/resources.json).
    key = operation.get("Key") or operation.get("Item") or {}
    return (
        str(operation.get("TableName")),
        json.dumps(key.get("pk"), sort_keys=True),
        json.dumps(key.get("sk"), sort_keys=True),
    )


_in_flight = _TransactionsInFlight()


@contextmanager
def transactions_in_flight(window_seconds: float) -> Iterator[None]:
    """Within the block, moto's servers answer as DynamoDB does while a transaction on an
    item is in flight (see _TransactionsInFlight)."""
    _in_flight.window = window_seconds
    try:
        yield
    finally:
        _in_flight.window = 0.0


class _OneDynamoDbCallAtATime:
    """moto's DynamoDB is not safe under concurrent requests: a transaction deep-copies
    every table it touches (failing when another thread changes one meanwhile) and, when a
    condition fails, puts that copy back, erasing writes other requests made in between.
    DynamoDB itself applies each request atomically, so DynamoDB requests are served one at
    a time here; S3 and Cognito requests stay concurrent.

    moto also ignores TransactWriteItems' ClientRequestToken, which botocore sets once per
    call so that DynamoDB applies a retried transaction (say, after a read timeout) only
    once. An ADD applied twice would be counted twice, so the first answer to a token is
    replayed here, as DynamoDB does."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[str, list[Any], bytes]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("DynamoDB_"):
            return self._app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        request = json.loads(body or b"{}")
        token = ""
        if target.endswith(".TransactWriteItems"):
            token = str(request.get("ClientRequestToken") or "")
        with self._lock:
            if token and token in self._answers:
                status, headers, answer = self._answers[token]
                start_response(status, headers)
                return [answer]
            refused = _in_flight.conflict(target, request)
            if refused is not None:
                status, answer = refused
                start_response(status, [("Content-Type", "application/x-amz-json-1.0")])
                return [answer]
            started: list[Any] = []

            def remember(status: str, headers: list[Any], *rest: Any) -> Any:
                started[:] = [status, headers]
                return start_response(status, headers, *rest)

            # The body is produced inside the lock: moto builds it before returning.
            answer = b"".join(self._app(environ, remember))
            if token and started:
                self._answers[token] = (started[0], started[1], answer)
            return [answer]


class _TablesShared:
    """Stands in for the ``copy`` module inside moto's DynamoDB backend: deep copies of
    anything but a whole table, which is handed back as it is (see below)."""

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


_Snapshot = tuple[Table, DynamoType, DynamoType | None, Item | None, int]


def _snapshot(backend: DynamoDBBackend, entry: dict[str, Any]) -> _Snapshot | None:
    op_type, op = next(iter(entry.items()))
    table = backend.tables.get(op.get("TableName"))
    key = op.get("Key") if op_type != "Put" else op.get("Item")
    if table is None or not isinstance(key, dict) or table.hash_key_attr not in key:
        return None  # moto refuses the request itself; nothing to put back
    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = None
    if table.range_key_attr is not None:
        if table.range_key_attr not in key:
            return None
        range_value = DynamoType(key[table.range_key_attr])
    current = table.get_item(hash_value, range_value)
    shard = table.stream_shard
    return table, hash_value, range_value, copy.deepcopy(current), len(shard.items) if shard else 0


def _put_back(snapshot: _Snapshot) -> None:
    table, hash_value, range_value, item, stream_length = snapshot
    items: dict[Any, Any] = table.items  # {hash: Item}, or {hash: {range: Item}}
    if range_value is None:
        if item is None:
            items.pop(hash_value, None)
        else:
            items[hash_value] = item
    elif item is None:
        items.get(hash_value, {}).pop(range_value, None)
    else:
        items.setdefault(hash_value, {})[range_value] = item
    if table.stream_shard is not None:
        # A cancelled transaction leaves nothing in the stream, as on DynamoDB.
        del table.stream_shard.items[stream_length:]


def _roll_back_only_touched_items() -> None:
    """moto rolls a cancelled TransactWriteItems back by deep-copying each table it names,
    once per action, before applying anything: the cost grows with everything the table
    holds (minutes, and gigabytes, for 64 parallel uploads in a table a suite has filled).
    The same rollback is kept here for the items the transaction names only: each is copied
    before the transaction and put back, with the stream records it added removed, if moto
    cancels it. Behaviour is unchanged (the contract suites run on this server); DynamoDB
    requests are served one at a time (below), so nothing changes an item in between."""
    if getattr(DynamoDBBackend.transact_write_items, "_touched_items_only", False):
        return
    setattr(dynamodb_models, "copy", _TablesShared())  # noqa: B010 - moto's own name
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        snapshots = [s for entry in transact_items if (s := _snapshot(self, entry)) is not None]
        try:
            original(self, transact_items)
        except Exception:
            for snapshot in reversed(snapshots):
                _put_back(snapshot)
            raise

    transact_write_items._touched_items_only = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _stop_tracking_dynamodb_models() -> None:
    """moto keeps every model instance it ever made in a class-level list (for its
    dashboard), and its DynamoDB makes an Item for every item of every read and every
    rollback copy, so a long suite keeps gigabytes alive. The tables hold their own items,
    so DynamoDB's instances are simply not listed; only the dashboard's view is lost."""
    if getattr(BaseModel.__new__, "_dynamodb_untracked", False):
        return
    tracked_new = BaseModel.__new__

    def __new__(cls: type[BaseModel], *args: Any, **kwargs: Any) -> BaseModel:
        if cls.__module__.startswith("moto.dynamodb."):
            return object.__new__(cls)
        return tracked_new(cls, *args, **kwargs)

    __new__._dynamodb_untracked = True  # type: ignore[attr-defined]
    BaseModel.__new__ = __new__  # type: ignore[method-assign]


_roll_back_only_touched_items()
_stop_tracking_dynamodb_models()


class _AtomicDynamoDbMotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        app = _OneDynamoDbCallAtATime(
            S3PartChecksums(
                DomainDispatcherApplication(create_backend_app),
                credentials=(_DUMMY, _DUMMY, _DUMMY),
                region=REGION,
            )
        )
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 for the duration of the block; yields its endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = _AtomicDynamoDbMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def shared_moto_server() -> str:
    """The test process's one moto server: started on first use, stopped at exit."""
    global _shared_endpoint
    with _lock:
        if _shared_endpoint is None:
            _shared_endpoint = _stack.enter_context(moto_server())
            atexit.register(_stack.close)
        return _shared_endpoint


@pytest.fixture(scope="session")
def moto_endpoint() -> str:
    """Import into a conftest to share the process's moto server with a suite."""
    return shared_moto_server()


def reset_moto(endpoint: str) -> None:
    """Forget every resource the server (and the in-process mock) holds."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@cache
def _session() -> boto3.session.Session:
    # One session: clients then share its loaded service models (much faster to build).
    # It is created after moto is imported, so mock_aws() can intercept its clients.
    return boto3.session.Session(region_name=REGION)


def dynamodb_client(endpoint: str | None = None) -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb", endpoint, _CONFIG)
    return client


def s3_client(endpoint: str | None = None) -> S3Client:
    # Path-style: a virtual-host name like bucket.127.0.0.1 would not resolve.
    client: S3Client = _client(
        "s3", endpoint, _CONFIG.merge(Config(s3={"addressing_style": "path"}))
    )
    return client


def cognito_client(endpoint: str | None = None) -> CognitoClient:
    client: CognitoClient = _client("cognito-idp", endpoint, _CONFIG)
    return client


def sqs_client(endpoint: str | None = None) -> SQSClient:
    client: SQSClient = _client("sqs", endpoint, _CONFIG)
    return client


def secrets_client(endpoint: str | None = None) -> Any:
    return _client("secretsmanager", endpoint, _CONFIG)


def _client(service: str, endpoint: str | None, config: Config) -> Any:
    return _session().client(
        service,  # type: ignore[call-overload]
        region_name=REGION,
        endpoint_url=endpoint,
        config=config,
        aws_access_key_id=_DUMMY,
        aws_secret_access_key=_DUMMY,
        aws_session_token=_DUMMY,
    )
