"""GraphQL subscriptions over WebSocket: the graphql-transport-ws protocol on /graphql.

Strawberry speaks the protocol; this module adds what it leaves to the application, each
answered with the protocol's own message or close code, never a traceback:

- sign-in: ``connection_init``'s payload carries ``{"Authorization": "Bearer <token>"}``,
  checked by the same TokenVerifier as HTTP; a bad or missing token closes 4403 before
  any subscription can start, and so does the token's expiry later on;
- limits: subscriptions per connection (an ``error`` for that id), connections per user
  (close 4429), message size (close 4400), subscribe/complete rate (``error``);
- shape: a message that is not a protocol message closes 4400 (Strawberry only catches
  missing keys); only subscriptions run here, so queries and mutations keep the one HTTP
  path with its defences (body cap, persisted operations);
- keep-alive: the server pings every few seconds once acknowledged (graphql-ws answers
  with pong), which also keeps idle proxies from dropping the socket.

The protocol's codes used: 4400 bad request, 4401 subscribe before ack, 4403 forbidden,
4408 init timeout, 4409 duplicate id, 4429 too many (init messages, or connections).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.websockets import WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)
from strawberry.types.execution import ExecutionResult

from api.auth import principal_from_authorization
from api.persisted_operations import PersistedOperationRefusal, requested_hash
from domain.errors import DomainError, StoreUnavailableError
from domain.models import Principal
from resolvers.context import Context
from resolvers.errors import translate_error

if TYPE_CHECKING:
    from strawberry.schema.schema import StreamResult

    from api.persisted_operations import PersistedOperations
    from domain.ports import TokenVerifier
    from resolvers.services import Services

logger = logging.getLogger("demobackend.subscriptions")

BAD_REQUEST = 4400
FORBIDDEN = 4403
TOO_MANY = 4429
INTERNAL_ERROR = 4500
_MAX_ID_CHARS = 128


@dataclass(frozen=True, slots=True)
class SubscriptionLimits:
    """What one WebSocket connection, and one user's connections together, may hold open
    and send, and how often the server pings: no client can hold the function's memory or
    flood its fan-out."""

    per_connection: int = 20
    connections_per_user: int = 10
    max_message_bytes: int = 16 * 1024
    messages_per_second: float = 5.0
    message_burst: int = 40
    keepalive_seconds: float = 15.0


@dataclass
class ConnectionSlots:
    """Open, acknowledged connections per user, in this process."""

    limit: int
    _open: dict[str, int] = field(default_factory=dict)

    def acquire(self, user_id: str) -> bool:
        count = self._open.get(user_id, 0)
        if count >= self.limit:
            return False
        self._open[user_id] = count + 1
        return True

    def release(self, user_id: str) -> None:
        count = self._open.get(user_id, 0) - 1
        if count > 0:
            self._open[user_id] = count
        else:
            self._open.pop(user_id, None)

    def open_for(self, user_id: str) -> int:
        return self._open.get(user_id, 0)


@dataclass
class SubscriptionPolicy:
    """What the handler needs from the app, built once by build_app."""

    services: Services
    verifier: TokenVerifier
    limits: SubscriptionLimits
    persisted: PersistedOperations | None = None
    # Without introspection, "Did you mean ..." would reveal the schema (resolvers/errors.py).
    hide_suggestions: bool = False
    slots: ConnectionSlots = field(init=False)

    def __post_init__(self) -> None:
        self.slots = ConnectionSlots(self.limits.connections_per_user)


class _TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class LimitedWebSocketAdapter(ASGIWebSocketAdapter):
    """Message size cap; sends and closes after the socket closed are dropped quietly
    (an expiry close can race an event being delivered)."""

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        limit: int = cast("Any", self.view).subscription_policy.limits.max_message_bytes
        while self.ws.application_state != WebSocketState.DISCONNECTED:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await self.close(BAD_REQUEST, "WebSocket message type must be text")
                return
            if len(text) > limit or len(text.encode("utf-8", "replace")) > limit:
                await self.close(BAD_REQUEST, f"Message exceeds {limit} bytes")
                return
            try:
                yield self.view.decode_json(text)
            except ValueError:  # JSONDecodeError, or not UTF-8 encodable
                await self.close(BAD_REQUEST, "WebSocket message must be valid JSON")
                return

    async def send_json(self, message: Mapping[str, object]) -> None:
        if self.ws.application_state == WebSocketState.DISCONNECTED:
            return
        with suppress(RuntimeError):  # closed between the check and the send
            await super().send_json(message)

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state == WebSocketState.DISCONNECTED:
            return
        with suppress(RuntimeError):
            await super().close(code, reason)


class DemoTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    @property
    def _policy(self) -> SubscriptionPolicy:
        return cast("Any", self.view).subscription_policy  # type: ignore[no-any-return]

    def on_request_accepted(self) -> None:
        super().on_request_accepted()
        self._user_id: str | None = None
        self._timers: list[asyncio.Task[None]] = []
        self._bucket = _TokenBucket(
            self._policy.limits.messages_per_second, self._policy.limits.message_burst
        )

    async def shutdown(self) -> None:
        for timer in self._timers:
            timer.cancel()
        if self._user_id is not None:
            self._policy.slots.release(self._user_id)
            self._user_id = None
        await super().shutdown()

    async def handle_message(self, message: Message) -> None:
        problem = shape_problem(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        if message["type"] in ("subscribe", "complete") and not self._bucket.take():
            if message["type"] == "subscribe":
                await self._refuse(message["id"], "Too many subscribe messages; slow down")
                return
            # A complete only frees resources: honoured even over the rate.
        await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if self.connection_timed_out:
            return
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
        payload = message.get("payload")
        payload = {} if payload is None else payload
        if not isinstance(payload, dict):
            await self.websocket.close(BAD_REQUEST, "Invalid connection init payload")
            return
        if self.connection_init_received:
            await self.websocket.close(TOO_MANY, "Too many initialisation requests")
            return
        self.connection_init_received = True
        try:
            principal = await self._authenticate(payload)
        except StoreUnavailableError:
            await self.websocket.close(INTERNAL_ERROR, "Internal server error")
            return
        if principal is None:
            await self.websocket.close(FORBIDDEN, "Forbidden")
            return
        if not self._policy.slots.acquire(principal.user_id):
            await self.websocket.close(TOO_MANY, "Too many connections for this user")
            return
        self._user_id = principal.user_id
        self.context.principal = principal
        self.context.connection_params = payload
        await self.send_message({"type": "connection_ack"})
        self.connection_acknowledged = True
        self._timers.append(asyncio.create_task(self._keep_alive()))
        if principal.expires_at is not None:
            self._timers.append(asyncio.create_task(self._close_at(principal.expires_at)))

    async def _authenticate(self, payload: Mapping[str, object]) -> Principal | None:
        header = payload.get("Authorization", payload.get("authorization"))
        if not isinstance(header, str):
            return None
        principal, _ = await principal_from_authorization(header, self._policy.verifier)
        if principal is None:
            return None
        try:
            await self._policy.services.profiles.ensure_profile(principal)
        except StoreUnavailableError:
            raise
        except DomainError:
            return None
        return principal

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self._policy.limits.keepalive_seconds)
            await self.send_message({"type": "ping"})

    async def _close_at(self, expires_at: float) -> None:
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        await self.websocket.close(FORBIDDEN, "Token expired")

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self.connection_acknowledged or message["id"] in self.operations:
            await super().handle_subscribe(message)  # 4401 / 4409, as the protocol says
            return
        if len(self.operations) >= self._policy.limits.per_connection:
            limit = self._policy.limits.per_connection
            await self._refuse(message["id"], f"At most {limit} subscriptions per connection")
            return
        payload = message["payload"]
        try:
            query = self._allowed_document(payload)
        except PersistedOperationRefusal as exc:
            await self._refuse(message["id"], exc.message, exc.code)
            return
        if query is not None and not is_subscription(query, payload.get("operationName")):
            await self._refuse(
                message["id"],
                "Only subscriptions run over WebSocket; send queries and mutations "
                "with POST /graphql",
                "BAD_REQUEST",
            )
            return
        if query is not None:
            payload["query"] = query
        await super().handle_subscribe(message)

    async def _send_result_stream(
        self, operation: Operation[Context, None], result_source: StreamResult
    ) -> None:
        # Schema extensions translate errors once per operation, not per event: every
        # result sent here gets the same codes and masking as an HTTP answer.
        request_id = self.context.request_id
        hide = self._policy.hide_suggestions

        async def translated() -> AsyncGenerator[Any, None]:
            async for result in result_source:
                if isinstance(result, ExecutionResult) and result.errors:
                    errors = result.errors
                    if not self._get_pre_execution_close_reason(errors[0]):
                        result.errors = [
                            translate_error(error, request_id, hide_suggestions=hide)
                            for error in errors
                        ]
                yield result

        stream = translated()
        try:
            await super()._send_result_stream(operation, cast("Any", stream))
        finally:
            await stream.aclose()

    def _allowed_document(self, payload: Mapping[str, Any]) -> str | None:
        persisted = self._policy.persisted
        query = payload.get("query")
        if persisted is None:
            return query if isinstance(query, str) else None
        return persisted.resolve(query, requested_hash(payload.get("extensions"), None))

    async def _refuse(self, operation_id: str, message: str, code: str = "RATE_LIMITED") -> None:
        error = GraphQLError(message, extensions={"code": code})
        await self.send_message({"id": operation_id, "type": "error", "payload": [error.formatted]})


def is_subscription(query: str, operation_name: object) -> bool:
    """False for a query or mutation; True when it cannot tell (Strawberry then answers a
    syntax error or an unknown operation with the protocol's own close or error)."""
    try:
        document = parse(query)
    except GraphQLError:
        return True
    name = operation_name if isinstance(operation_name, str) else None
    operation = get_operation_ast(document, name)
    return operation is None or operation.operation is OperationType.SUBSCRIPTION


def shape_problem(message: object) -> str | None:
    """Why ``message`` is not a graphql-transport-ws message the server accepts, if so."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "Invalid message"
    kind = message["type"]
    if kind not in ("subscribe", "complete"):
        return None  # connection_init, ping, pong; Strawberry closes on unknown types
    operation_id = message.get("id")
    if not isinstance(operation_id, str) or not 0 < len(operation_id) <= _MAX_ID_CHARS:
        return "Invalid message id"
    if kind == "complete":
        return None
    payload = message.get("payload")
    if not isinstance(payload, dict):
        return "Invalid subscribe payload"
    query = payload.get("query")
    if not (query is None or isinstance(query, str)):
        return "Invalid subscribe payload"
    if query is None and not isinstance(payload.get("extensions"), dict):
        return "Invalid subscribe payload"
    for key in ("variables", "extensions"):
        if payload.get(key) is not None and not isinstance(payload[key], dict):
            return "Invalid subscribe payload"
    name = payload.get("operationName")
    if name is not None and not isinstance(name, str):
        return "Invalid subscribe payload"
    return None
