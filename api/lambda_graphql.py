"""The Lambda fast path for ``POST /graphql``: an API Gateway HTTP API (payload 2.0) event
straight to the GraphQL view and back, without Mangum's request cycle, Starlette's
application and router, or Strawberry's generic ``run``.

Those layers carry no behaviour of ours for such a request, yet run on every warm
invocation (bench/README.md, "Lambda warm path", round four: ~5% of a `me` invocation).
What stays is everything that does carry a behaviour, reused rather than rewritten, so
the two paths cannot drift:

- the event becomes an ASGI scope, and the answer a v2 response dict, through Mangum's own
  HTTP API handler (same headers, cookies, base64 rules);
- the request passes through the app's own middleware list, built from the same classes
  and arguments Starlette builds its stack from (request id, deadline, observability with
  its request line, metrics and EMF document, CORS), inside Starlette's error middleware;
- the endpoint is the app's own ``DemoGraphQL`` view (``answer_single_post``): the same
  refusals (406, 413, 415), context and token check, body parsing, persisted operations,
  execution, error masking, media types and 503 mapping; only the dispatch for batches,
  streams and the playground is left out.

Only events it is sure of are taken: version 2.0, POST, the exact path ``/graphql``, a body
that is one JSON object and an Accept that selects none of the view's HTTP stream
transports (none is on today: subscriptions are WebSocket only). Anything else (other
routes and methods, a stage-prefixed path, batches, a body that is not an object,
WebSocket and v1 events) returns None and the handler gives it to Mangum, unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from mangum.exceptions import UnexpectedMessage
from mangum.handlers.api_gateway import HTTPGateway
from mangum.types import LambdaConfig, Response, Scope
from starlette.applications import Starlette
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Route
from starlette.types import ASGIApp, Message

from api.graphql_view import DemoGraphQL

GRAPHQL_PATH = "/graphql"
_WHITESPACE = b" \t\r\n"
# Mangum's own logger: the same lines as its HTTPCycle logs.
_cycle_logger = logging.getLogger("mangum.http")


def graphql_view_of(app: Starlette) -> DemoGraphQL:
    """The view the app serves at /graphql (one per app, api/app.py)."""
    for route in app.routes:
        if isinstance(route, Route) and route.path == GRAPHQL_PATH:
            endpoint = route.endpoint
            if isinstance(endpoint, DemoGraphQL):
                return endpoint
    raise LookupError(f"the app serves no DemoGraphQL view at {GRAPHQL_PATH}")


def middleware_around(app: Starlette, endpoint: ASGIApp) -> ASGIApp:
    """``endpoint`` wrapped exactly as Starlette wraps its router (build_middleware_stack):
    the error middleware, the app's own middleware list, the exception middleware."""
    error_handler = None
    handlers: dict[Any, Any] = {}
    for key, value in app.exception_handlers.items():
        if key in (500, Exception):
            error_handler = value
        else:
            handlers[key] = value
    wrapped = ExceptionMiddleware(endpoint, handlers=handlers, debug=app.debug)
    for middleware in reversed(app.user_middleware):
        cls, args, kwargs = middleware
        wrapped = cls(wrapped, *args, **kwargs)
    return ServerErrorMiddleware(wrapped, handler=error_handler, debug=app.debug)


class _Gateway(HTTPGateway):
    """Mangum's HTTP API handler, with the scope it builds made once: Mangum's own
    ``__call__`` builds it a second time only to read the event's version. Remembered by
    hand: ``functools.cached_property`` takes a lock on every first read (Python 3.11)."""

    _scope: Scope | None = None

    @property
    def scope(self) -> Scope:
        scope = self._scope
        if scope is None:
            scope = self._scope = super().scope
        return scope


class LambdaGraphQL:
    """``fast(event, context)``: the v2 response dict, or None for events it does not take.
    ``taken`` counts the invocations it answered (tests check the path was used)."""

    def __init__(self, app: Starlette, config: LambdaConfig) -> None:
        if app.max_body_size is not None:  # a limit this path would not apply
            raise ValueError("the fast path does not apply Starlette's max_body_size")
        self._view = graphql_view_of(app)
        self._config = config
        self._asgi = middleware_around(app, self._view.answer_single_post)
        self.taken = 0

    def __call__(self, event: Any, context: Any) -> dict[str, Any] | None:
        if not _post_to_graphql(event):
            return None
        gateway = _Gateway(event, context, self._config)
        body = gateway.body
        if body.lstrip(_WHITESPACE)[:1] != b"{":
            return None  # a batch, or not JSON: the full view's answer
        scope = gateway.scope
        accept = _header(scope["headers"], b"accept")
        if accept is not None and self._view.takes_stream(accept):
            return None
        response = asyncio.get_event_loop().run_until_complete(self._cycle(scope, body))
        self.taken += 1
        result: dict[str, Any] = gateway(response)
        return result

    async def _cycle(self, scope: Scope, body: bytes) -> Response:
        """One request through the ASGI stack as Mangum's HTTPCycle runs it: the whole
        body in one message, ``http.disconnect`` once the answer is complete, the same
        500 and the same log lines when the application raises."""
        response: Response = {"status": 500, "headers": [], "body": b""}
        chunks: list[bytes] = []
        state = {"received": False, "started": False}
        complete = asyncio.Event()

        async def receive() -> Message:
            if not state["received"]:
                state["received"] = True
                return {"type": "http.request", "body": body, "more_body": False}
            await complete.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start" and not state["started"]:
                state["started"] = True
                response["status"] = message["status"]
                response["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body" and not complete.is_set():
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    complete.set()
                    _cycle_logger.info(
                        "%s %s %s", scope["method"], scope["path"], response["status"]
                    )
            else:
                raise UnexpectedMessage(f"Unexpected {message['type']}")

        try:
            await self._asgi(scope, receive, send)
        except BaseException:
            _cycle_logger.exception("An error occurred running the application.")
            if not state["started"] or not complete.is_set():
                response["status"] = 500
                response["headers"] = [[b"content-type", b"text/plain; charset=utf-8"]]
                chunks[:] = [b"Internal Server Error"]
        response["body"] = b"".join(chunks)
        return response


def _post_to_graphql(event: Any) -> bool:
    if not isinstance(event, Mapping) or event.get("version") != "2.0":
        return False
    request_context = event.get("requestContext")
    http = request_context.get("http") if isinstance(request_context, Mapping) else None
    return (
        isinstance(http, Mapping)
        and http.get("method") == "POST"
        and http.get("path") == GRAPHQL_PATH
        and isinstance(http.get("sourceIp"), str)
    )


def _header(headers: list[list[bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode()
    return None
