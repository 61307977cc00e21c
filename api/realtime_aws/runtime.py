"""What the WebSocket and stream functions share, built once per container."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import strawberry

    from api.persisted_operations import PersistedOperations
    from api.subscriptions import SubscriptionLimits
    from domain.ports import TokenVerifier
    from domain.realtime import ConnectionGateway, ConnectionRegistry, StreamChange
    from resolvers.services import Services

# API Gateway ends every WebSocket after 2 hours; its items need not outlive that.
CONNECTION_TTL_SECONDS = 2 * 3600


@dataclass
class Realtime:
    schema: strawberry.Schema
    services: Services
    verifier: TokenVerifier
    registry: ConnectionRegistry
    gateway: ConnectionGateway
    limits: SubscriptionLimits
    # A stream record (Lambda's event shape) -> the change; raises on a malformed record.
    decode_change: Callable[[Any], StreamChange]
    persisted: PersistedOperations | None = None
    hide_suggestions: bool = True
    clock: Callable[[], float] = field(default=time.time)
