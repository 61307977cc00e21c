"""The Lambda entry points of the realtime functions (infra/template.yaml):

- ``websocket_handler``: the WebSocket API's ``$connect``, ``$disconnect`` and ``$default``
  routes (RealtimeSocketFunction);
- ``stream_handler``: the items table's DynamoDB Stream (RealtimeStreamFunction), answering
  ``batchItemFailures`` (the mapping's ReportBatchItemFailures).

Both come from the same package as the API function; settings and adapters are built on
the first invocation and kept for the container's life, on one event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from api.realtime_aws.stream import StreamDelivery
from api.realtime_aws.websocket import WebSocketRoutes

if TYPE_CHECKING:
    from api.realtime_aws.runtime import Realtime

logger = logging.getLogger("demobackend.realtime")


class RealtimeHandlers:
    def __init__(self, rt: Realtime) -> None:
        self.rt = rt
        self.routes = WebSocketRoutes(rt)
        self.delivery = StreamDelivery(rt)

    def websocket(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        request = event.get("requestContext") or {}
        route, connection_id = request.get("routeKey"), request.get("connectionId")
        if not isinstance(connection_id, str) or not connection_id:
            return {"statusCode": 400}
        loop = _event_loop()
        if route == "$connect":
            headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
            return loop.run_until_complete(
                self.routes.connect(connection_id, headers.get("sec-websocket-protocol"))
            )
        if route == "$disconnect":
            return loop.run_until_complete(self.routes.disconnect(connection_id))
        body = event.get("body")
        return loop.run_until_complete(
            self.routes.message(connection_id, body if isinstance(body, str) else None)
        )

    def stream(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        records = event.get("Records")
        figures = _event_loop().run_until_complete(
            self.delivery.process(records if isinstance(records, list) else [])
        )
        return figures.response()


def _event_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_event_loop()
    except RuntimeError:  # no current loop in this thread: make one, as Mangum does
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        return loop


_handlers: RealtimeHandlers | None = None


def _get() -> RealtimeHandlers:
    global _handlers
    if _handlers is None:
        from api.bootstrap import build_realtime
        from api.settings import load_settings

        _handlers = RealtimeHandlers(build_realtime(load_settings()))
    return _handlers


def websocket_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _get().websocket(event, context)


def stream_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _get().stream(event, context)
