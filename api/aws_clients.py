"""boto3 clients for the composition root: built once per container, configured here so
adapters never create or tune clients themselves."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

    from api.settings import Settings

# Short timeouts: an API request waits on these (and on its own deadline, which cuts the
# wait shorter still). botocore's retries are OFF: one attempt per call. The DynamoDB
# adapter is the one retry layer (adapters/items/dynamodb/retry.py), because only there
# are the request's deadline and the process-wide retry budget known; botocore retrying
# inside it made one throttled operation up to 3 x 6 = 18 calls.
_CONNECT_TIMEOUT_SECONDS = 1
BOTOCORE_TOTAL_MAX_ATTEMPTS = 1  # the first attempt and no retry
_POOL_SIZE = 32  # BatchGetItem chunks run concurrently
# Every client this process made: api.snapstart closes their pooled connections after a
# SnapStart restore (the sockets in the snapshot lead nowhere).
_created: list[Any] = []


def created_clients() -> tuple[Any, ...]:
    return tuple(_created)


@cache
def _core_session() -> Any:
    import botocore.session

    from api.aws_data import install_data_loader

    # One session per process: its clients share loaded service models and credentials.
    core = botocore.session.get_session()
    # botocore's data decoded into plain dicts, not OrderedDicts (~11 ms of CPU of a cold
    # start), its service folders walked once rather than once per model type (~5 ms).
    install_data_loader(core)
    return core


@cache
def _session() -> Any:
    import boto3

    return boto3.session.Session(botocore_session=_core_session())


def _client(service: str, settings: Settings, **config: Any) -> Any:
    from botocore.config import Config

    client = _session().client(
        service,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(
            connect_timeout=_CONNECT_TIMEOUT_SECONDS,
            read_timeout=settings.aws_read_timeout_seconds,
            retries={"total_max_attempts": BOTOCORE_TOTAL_MAX_ATTEMPTS, "mode": "standard"},
            max_pool_connections=_POOL_SIZE,
            **config,
        ),
    )
    _created.append(client)
    return client


def dynamodb_client(settings: Settings) -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb", settings)
    return client


def s3_client(settings: Settings) -> S3Client:
    # SigV4 always: in us-east-1 boto3 would otherwise presign with SigV2, which S3
    # refuses on buckets created since 2020. Path style keeps emulators reachable.
    addressing = {"addressing_style": "path"} if settings.aws_endpoint_url else None
    client: S3Client = _client("s3", settings, signature_version="s3v4", s3=addressing)
    return client


def sqs_client(settings: Settings) -> SQSClient:
    """For ops commands (replaying the upload events' dead-letter queue), not the API."""
    client: SQSClient = _client("sqs", settings)
    return client


def cognito_client(settings: Settings) -> Any:
    # Made on first use: only the account operations call Cognito, and loading its service
    # model was ~10% of the first build on the AWS path (bench/cold_import.py).
    return LazyClient(lambda: _client("cognito-idp", settings))


def lambda_client(settings: Settings) -> Any:
    """Invokes the function itself (data exports built in the background): made on first
    use, as Cognito's, since only an export calls it."""
    return LazyClient(lambda: _client("lambda", settings))


class LazyClient:
    """A boto3 client created on its first attribute access, once (then every access goes
    to it). Injected like the client itself; until used, it costs nothing and is not in
    ``created_clients()``, so SnapStart has no connection of it to drop."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._client: Any = None
        self._lock = threading.Lock()  # boto3 calls run in worker threads

    def __getattr__(self, name: str) -> Any:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make()
                client = self._client
        return getattr(client, name)


def connections_client(settings: Settings) -> ApiGatewayManagementApiClient:
    """API Gateway's Management API of the WebSocket API (PostToConnection): its endpoint
    is the API's stage URL, or the emulator's."""
    from botocore.config import Config

    endpoint = settings.realtime_endpoint_url or settings.aws_endpoint_url
    client: ApiGatewayManagementApiClient = _session().client(
        "apigatewaymanagementapi",
        region_name=settings.aws_region,
        endpoint_url=endpoint,
        config=Config(
            connect_timeout=_CONNECT_TIMEOUT_SECONDS,
            read_timeout=settings.aws_read_timeout_seconds,
            # Throttling (LimitExceededException) is worth one more try per message.
            retries={"total_max_attempts": 2, "mode": "standard"},
            max_pool_connections=_POOL_SIZE,
        ),
    )
    _created.append(client)
    return client
