"""Give every request an id (API Gateway's own when the request came through it), expose
it as ``request.state.request_id`` and echo it in the ``X-Request-Id`` response header."""

import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = b"x-request-id"
_SAFE_ID = re.compile(r"[A-Za-z0-9._=-]{1,128}")


def _gateway_request_id(scope: Scope) -> str | None:
    event: Any = scope.get("aws.event")
    if not isinstance(event, dict):
        return None
    request_id = (event.get("requestContext") or {}).get("requestId")
    return request_id if isinstance(request_id, str) and _SAFE_ID.fullmatch(request_id) else None


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = assign_request_id(scope)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_request_id_header(message, request_id)
            await send(message)

        await self.app(scope, receive, send_with_id)


def assign_request_id(scope: Scope) -> str:
    """The request's id, kept in ``scope["state"]`` (``request.state.request_id``)."""
    request_id = _gateway_request_id(scope) or uuid.uuid4().hex
    scope.setdefault("state", {})["request_id"] = request_id
    return request_id


def add_request_id_header(start: Message, request_id: str) -> None:
    headers = list(start.get("headers", []))
    headers.append((REQUEST_ID_HEADER, request_id.encode()))
    start["headers"] = headers
