"""ConnectionGateway over API Gateway's Management API (``@connections``): PostToConnection
sends one message, DeleteConnection ends a socket. The client is injected (api/bootstrap.py).

API Gateway lets the backend close a socket but not choose its close code: the protocol's
code (4403, 4400, ...) is logged here, and API Gateway sends its own close frame.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from domain.errors import StoreUnavailableError
from domain.realtime import ConnectionGoneError

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient

logger = logging.getLogger(__name__)

_GONE = "GoneException"
UNAVAILABLE = "The WebSocket gateway is unavailable"


def _code_of(exc: ClientError) -> str:
    error: Any = exc.response.get("Error", {})
    return str(error.get("Code", ""))


class ApiGatewayConnections:
    def __init__(self, client: ApiGatewayManagementApiClient) -> None:
        self._client = client

    @property
    def client(self) -> ApiGatewayManagementApiClient:
        return self._client

    async def send(self, connection_id: str, message: dict[str, object]) -> None:
        data = json.dumps(message, separators=(",", ":")).encode("utf-8")
        try:
            await asyncio.to_thread(
                self._client.post_to_connection, ConnectionId=connection_id, Data=data
            )
        except ClientError as exc:
            if _code_of(exc) == _GONE:
                raise ConnectionGoneError(connection_id) from None
            raise StoreUnavailableError(UNAVAILABLE) from None
        except BotoCoreError:
            raise StoreUnavailableError(UNAVAILABLE) from None

    async def close(self, connection_id: str, code: int, reason: str) -> None:
        logger.info("realtime: closing %s with %d (%s)", connection_id, code, reason)
        try:
            await asyncio.to_thread(self._client.delete_connection, ConnectionId=connection_id)
        except ClientError as exc:
            if _code_of(exc) != _GONE:
                raise StoreUnavailableError(UNAVAILABLE) from None
        except BotoCoreError:
            raise StoreUnavailableError(UNAVAILABLE) from None
