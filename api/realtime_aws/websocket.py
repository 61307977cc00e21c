"""graphql-transport-ws over API Gateway's WebSocket routes.

API Gateway holds the socket and invokes this code once per event: ``$connect`` (the
client must offer the ``graphql-transport-ws`` subprotocol), ``$disconnect``, and
``$default`` for every message. State lives in the ConnectionRegistry between invocations.
The answers follow the local server (api/subscriptions.py), with its codes: 4400 bad
request, 4401 subscribe before ack, 4403 bad or expired token, 4409 duplicate id, 4429 too
many; limits from the same settings. A subscription is run once when it arrives, through
the schema with no event, so a refusal (an unreadable file, an invalid document) is the
protocol's ``error`` before anything is stored; the routing key it is stored under is the
interest its resolver subscribed with.
"""

from __future__ import annotations

import json
import logging
import math
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError

from api.auth import principal_from_authorization
from api.persisted_operations import PersistedOperationRefusal, requested_hash
from api.realtime_aws.execution import run_subscription
from api.realtime_aws.runtime import CONNECTION_TTL_SECONDS
from api.subscriptions import (
    BAD_REQUEST,
    FORBIDDEN,
    INTERNAL_ERROR,
    TOO_MANY,
    is_subscription,
    shape_problem,
)
from domain.errors import DomainError, StoreUnavailableError
from domain.realtime import ConnectionGoneError, StoredSubscription, route_of

if TYPE_CHECKING:
    from api.realtime_aws.runtime import Realtime
    from domain.models import Principal
    from domain.realtime import Connection

logger = logging.getLogger("demobackend.realtime")

SUBPROTOCOL = "graphql-transport-ws"
UNAUTHORIZED = 4401
DUPLICATE = 4409
OK: dict[str, Any] = {"statusCode": 200}


def offers_subprotocol(header: str | None) -> bool:
    return SUBPROTOCOL in (part.strip() for part in (header or "").split(","))


class WebSocketRoutes:
    def __init__(self, rt: Realtime) -> None:
        self.rt = rt

    async def connect(self, connection_id: str, subprotocols: str | None) -> dict[str, Any]:
        if not offers_subprotocol(subprotocols):
            return {"statusCode": 400}
        now = int(self.rt.clock())
        await self.rt.registry.open(connection_id, now + CONNECTION_TTL_SECONDS)
        # API Gateway completes the handshake with the subprotocol only when told to.
        return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": SUBPROTOCOL}}

    async def disconnect(self, connection_id: str) -> dict[str, Any]:
        await self.rt.registry.close(connection_id)
        return OK

    async def message(self, connection_id: str, body: str | None) -> dict[str, Any]:
        try:
            await self._message(connection_id, body)
        except ConnectionGoneError:
            await self.rt.registry.close(connection_id)
        except StoreUnavailableError:
            logger.warning("realtime: store unavailable for %s", connection_id)
            await self._close(connection_id, INTERNAL_ERROR, "Internal server error")
        return OK

    async def _message(self, connection_id: str, body: str | None) -> None:
        limit = self.rt.limits.max_message_bytes
        if body is None or len(body.encode("utf-8", "replace")) > limit:
            await self._close(connection_id, BAD_REQUEST, f"Message exceeds {limit} bytes")
            return
        try:
            message = json.loads(body)
        except ValueError:
            await self._close(connection_id, BAD_REQUEST, "WebSocket message must be valid JSON")
            return
        problem = shape_problem(message)
        if problem is not None:
            await self._close(connection_id, BAD_REQUEST, problem)
            return
        connection = await self.rt.registry.get(connection_id)
        if connection is None:  # expired, or a $disconnect already ran
            await self._close(connection_id, BAD_REQUEST, "Unknown connection")
            return
        kind = message["type"]
        if kind == "connection_init":
            await self._init(connection, message.get("payload"))
        elif kind == "ping":
            await self.rt.gateway.send(connection_id, {"type": "pong"})
        elif kind == "pong":
            return
        elif kind in ("subscribe", "complete"):
            await self._operation(connection, message)
        else:
            await self._close(connection_id, BAD_REQUEST, f"Unknown message type: {kind}"[:120])

    async def _init(self, connection: Connection, payload: object) -> None:
        cid = connection.connection_id
        payload = {} if payload is None else payload
        if not isinstance(payload, dict):
            await self._close(cid, BAD_REQUEST, "Invalid connection init payload")
            return
        if connection.viewer is not None:
            await self._close(cid, TOO_MANY, "Too many initialisation requests")
            return
        viewer = await self._authenticate(payload)
        if viewer is None:
            await self._close(cid, FORBIDDEN, "Forbidden")
            return
        limit = self.rt.limits.connections_per_user
        if await self.rt.registry.count_for_user(viewer.user_id, self.rt.clock()) >= limit:
            await self._close(cid, TOO_MANY, "Too many connections for this user")
            return
        await self.rt.registry.acknowledge(cid, viewer, self._expiry(viewer))
        await self.rt.gateway.send(cid, {"type": "connection_ack"})

    async def _authenticate(self, payload: dict[str, Any]) -> Principal | None:
        header = payload.get("Authorization", payload.get("authorization"))
        if not isinstance(header, str):
            return None
        viewer, _ = await principal_from_authorization(header, self.rt.verifier)
        if viewer is None:
            return None
        try:
            await self.rt.services.profiles.ensure_profile(viewer)
        except StoreUnavailableError:
            raise
        except DomainError:  # signed out everywhere, or the account is being deleted
            return None
        return viewer

    def _expiry(self, viewer: Principal) -> int:
        """Items live until the token expires (or API Gateway's 2 hours end the socket)."""
        ends = self.rt.clock() + CONNECTION_TTL_SECONDS
        if viewer.expires_at is not None:
            ends = min(ends, viewer.expires_at)
        return math.ceil(ends)

    async def _operation(self, connection: Connection, message: dict[str, Any]) -> None:
        cid, operation_id = connection.connection_id, message["id"]
        viewer = connection.viewer
        if viewer is None:
            await self._close(cid, UNAUTHORIZED, "Unauthorized")
            return
        if viewer.expires_at is not None and viewer.expires_at <= self.rt.clock():
            await self._close(cid, FORBIDDEN, "Token expired")
            return
        within_rate = await self._count(connection)
        if message["type"] == "complete":  # only frees resources: honoured over the rate
            await self.rt.registry.remove_subscription(cid, operation_id)
            return
        if not within_rate:
            await self._refuse(cid, operation_id, "Too many subscribe messages; slow down")
            return
        await self._subscribe(connection, viewer, message)

    async def _count(self, connection: Connection) -> bool:
        """A fixed window holding the burst, refilled at the sustained rate: the local
        token bucket's budget, kept in the connection's item between invocations."""
        limits = self.rt.limits
        span = max(1.0, limits.message_burst / limits.messages_per_second)
        window = int(self.rt.clock() // span)
        used = connection.messages + 1 if connection.window == window else 1
        await self.rt.registry.count_message(connection.connection_id, window, used)
        return used <= limits.message_burst

    async def _subscribe(
        self, connection: Connection, viewer: Principal, message: dict[str, Any]
    ) -> None:
        cid, operation_id, payload = connection.connection_id, message["id"], message["payload"]
        existing = await self.rt.registry.subscriptions_of(cid)
        if any(s.subscription_id == operation_id for s in existing):
            await self._close(cid, DUPLICATE, f"Subscriber for {operation_id} already exists")
            return
        limit = self.rt.limits.per_connection
        if len(existing) >= limit:
            await self._refuse(cid, operation_id, f"At most {limit} subscriptions per connection")
            return
        try:
            query = self._allowed_document(payload)
        except PersistedOperationRefusal as exc:
            await self._refuse(cid, operation_id, exc.message, exc.code)
            return
        name = payload.get("operationName")
        if query is None or not is_subscription(query, name):
            await self._refuse(
                cid,
                operation_id,
                "Only subscriptions run over WebSocket; send queries and mutations "
                "with POST /graphql",
                "BAD_REQUEST",
            )
            return
        variables = payload.get("variables")
        run = await run_subscription(
            self.rt, viewer, f"ws-{cid}-{operation_id}", query, variables, name, None
        )
        if run.errors is not None or run.source is None or run.source.interest is None:
            errors: list[Any] = run.errors or [GraphQLError("Nothing to subscribe to").formatted]
            await self.rt.gateway.send(
                cid, {"id": operation_id, "type": "error", "payload": errors}
            )
            return
        if run.ended:  # readable a moment ago, gone since: the subscription is already over
            await self.rt.gateway.send(cid, {"id": operation_id, "type": "complete"})
            return
        stored = StoredSubscription(
            cid, operation_id, viewer, route_of(run.source.interest), query, variables, name
        )
        if not await self.rt.registry.add_subscription(stored, self._expiry(viewer)):
            await self._close(cid, DUPLICATE, f"Subscriber for {operation_id} already exists")

    def _allowed_document(self, payload: dict[str, Any]) -> str | None:
        query = payload.get("query")
        if self.rt.persisted is None:
            return query if isinstance(query, str) else None
        return self.rt.persisted.resolve(query, requested_hash(payload.get("extensions"), None))

    async def _refuse(
        self, connection_id: str, operation_id: str, text: str, code: str = "RATE_LIMITED"
    ) -> None:
        error = GraphQLError(text, extensions={"code": code})
        await self.rt.gateway.send(
            connection_id, {"id": operation_id, "type": "error", "payload": [error.formatted]}
        )

    async def _close(self, connection_id: str, code: int, reason: str) -> None:
        await self.rt.gateway.close(connection_id, code, reason)
        await self.rt.registry.close(connection_id)
