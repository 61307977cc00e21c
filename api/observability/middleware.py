"""The per-request gatherer: one JSON log line and one metrics sample per HTTP request.

Pure ASGI, inside the request-id middleware. It opens the request's figures
(resolvers/extensions/metrics.py), which the counting stores and the OperationFigures
schema extension fill in, and the request's log keys; when the response is done it logs
the ``request`` line and hands a bounded ``RequestSample`` to each metrics recorder.
"""

from __future__ import annotations

import functools
import json.encoder
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.observability.logs import (
    RenderedFields,
    RequestKeys,
    RequestLineWriter,
)
from api.observability.metrics import Labeller, Recorder, RequestSample
from api.request_ids import add_request_id_header, assign_request_id
from resolvers.extensions.metrics import close_figures, open_figures

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from api.observability.tracing import RequestTracer
    from resolvers.extensions.metrics import RequestFigures

UNMATCHED = "unmatched"


class ObservabilityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[BaseRoute],
        logger: Logger,
        recorders: Sequence[Recorder],
        tracer: RequestTracer | None = None,
        assign_ids: bool = False,
    ) -> None:
        self.app = app
        # Outermost, in RequestIdMiddleware's place: one layer and one send wrapper fewer.
        self._assign_ids = assign_ids
        self._routes = list(routes)
        # Plain paths answer from a dict; templates and mounts fall back to matching.
        self._exact = {
            route.path: route.path
            for route in routes
            if isinstance(route, Route) and not route.param_convertors
        }
        self._logger = logger
        self._request_line = RequestLineWriter(logger)
        self._keys = RequestKeys(logger)
        self._recorders = list(recorders)
        self._tracer = tracer
        self._labeller = Labeller()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        assign_ids = self._assign_ids
        if assign_ids:
            request_id = assign_request_id(scope)
        else:
            request_id = str(scope.get("state", {}).get("request_id") or uuid.uuid4().hex)
        route = self._route_of(scope)
        figures, token = open_figures(request_id)
        context = self._keys.begin(correlation_id=request_id)
        status = 500  # unless a response starts

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if assign_ids:
                    add_request_id_header(message, request_id)
            await send(message)

        started = time.perf_counter()
        try:
            tracer = self._tracer
            if tracer is None:  # no context manager at all when tracing is off
                await self.app(scope, receive, send_with_status)
            else:
                async with tracer.span(f"## {route}") as span:
                    await self.app(scope, receive, send_with_status)
                    if span is not None:
                        tracer.annotate(span, route=route, status=status)
        finally:
            latency_ms = (time.perf_counter() - started) * 1000
            try:
                self._finish(scope, route, status, latency_ms, figures, context)
            finally:
                self._keys.end()
                close_figures(token)

    def _finish(
        self,
        scope: Scope,
        route: str,
        status: int,
        latency_ms: float,
        figures: RequestFigures,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        labeller = self._labeller
        sample = RequestSample(  # by position: a NamedTuple's keywords cost a dict
            route,
            labeller.operation(figures),
            figures.operation_type or "none",
            status,
            latency_ms,
            labeller.error_codes(figures, status),
            figures,
            "aws.event" in scope,
        )
        self._request_line.info(
            "request",
            # Not a lambda: that would make scope and sample cells of this frame.
            functools.partial(_log_fields, scope, sample),
            _rendered_fields(scope, sample, context),
        )
        for recorder in self._recorders:
            try:
                recorder.record(sample)
            except Exception:  # metrics must never fail the request
                self._logger.exception("recording metrics failed")

    def _route_of(self, scope: Scope) -> str:
        exact = self._exact.get(scope.get("path", ""))
        if exact is not None:
            return exact
        for route in self._routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                if isinstance(route, Mount):
                    return f"{route.path}/*"
                if isinstance(route, Route):
                    return route.path
        return UNMATCHED


def _log_fields(scope: Scope, sample: RequestSample) -> dict[str, Any]:
    figures = sample.figures
    fields: dict[str, Any] = {
        "request_id": figures.request_id,
        "method": scope.get("method"),
        "route": sample.route,  # a template: raw paths and query strings are never logged
        "status": sample.status,
        "latency_ms": round(sample.latency_ms, 2),
        "store_calls": figures.store_calls,
        "item_calls": figures.item_calls,
        "items_read": figures.items_read,
        "blob_calls": figures.blob_calls,
        "blob_presigns": figures.blob_presigns,
    }
    if figures.graphql:
        fields |= {
            "operation_name": figures.operation_name,
            "operation": sample.operation,
            "operation_type": figures.operation_type,
            "error_codes": list(figures.error_codes),
        }
    elif sample.error_codes:
        fields["error_codes"] = list(sample.error_codes)
    if figures.user is not None:
        fields["user"] = figures.user
    if figures.search_ms is not None:
        fields["search_ms"] = round(figures.search_ms, 2)
    lambda_context = scope.get("aws.context")
    lambda_request_id = getattr(lambda_context, "aws_request_id", None)
    if isinstance(lambda_request_id, str):
        fields["lambda_request_id"] = lambda_request_id
    return fields


# Every key _log_fields can give.
REQUEST_FIELDS = frozenset(
    {
        *("request_id", "method", "route", "status", "latency_ms", "store_calls"),
        *("item_calls", "items_read", "blob_calls", "blob_presigns", "operation_name"),
        *("operation", "operation_type", "error_codes", "user", "search_ms"),
        "lambda_request_id",
    }
)
# The fields every request line has, in _log_fields' order, as the compact json.dumps
# (ensure_ascii off) of the request line writes them: strings through json's own escaping,
# ints as %d, finite floats as repr.
_ALWAYS = (
    ',"request_id":%s,"method":%s,"route":%s,"status":%d,"latency_ms":%s,"store_calls":%d'
    ',"item_calls":%d,"items_read":%d,"blob_calls":%d,"blob_presigns":%d'
)
# Then, for a named GraphQL operation answered without errors for a signed-in user:
_ANSWERED = _ALWAYS + (
    ',"operation_name":%s,"operation":%s,"operation_type":%s,"error_codes":[],"user":%s'
)
_escape: Callable[[str], str] = json.encoder.encode_basestring
_ID = ',"correlation_id":'


def _rendered_fields(
    scope: Scope, sample: RequestSample, context: Mapping[str, Any] | None = None
) -> RenderedFields | None:
    """_log_fields(scope, sample) as the request line's JSON, from formats made once (a
    dict and its serialization per request were the line's largest part); None, and the
    dict, when a value is not of a type written here exactly as json writes it. With
    ``context``, the request's log keys as the middleware set them, those too."""
    figures = sample.figures
    status, latency = sample.status, round(sample.latency_ms, 2)
    items, item_calls, blob_calls = figures.items_read, figures.item_calls, figures.blob_calls
    presigns = figures.blob_presigns
    if not (
        type(status) is int
        and type(item_calls) is int
        and type(blob_calls) is int
        and type(items) is int
        and type(presigns) is int
        and type(latency) is float
        and latency - latency == 0.0  # finite: json writes NaN and Infinity otherwise
    ):
        return None
    try:  # _escape takes str only; any other value is left to the dict
        request_id = _escape(figures.request_id)
        always = (
            request_id,
            _escape(scope.get("method")),  # type: ignore[arg-type]
            _escape(sample.route),
            status,
            float.__repr__(latency),
            item_calls + blob_calls,
            item_calls,
            items,
            blob_calls,
            presigns,
        )
        operation_name, operation_type = figures.operation_name, figures.operation_type
        if (
            figures.graphql
            and operation_name is not None
            and operation_type is not None
            and not figures.error_codes
            and figures.user is not None
        ):  # most requests: a named, answered operation of a signed-in user, in one format
            text = _ANSWERED % (
                *always,
                _escape(operation_name),
                _escape(sample.operation),
                _escape(operation_type),
                _escape(figures.user),
            )
        else:
            text = _ALWAYS % always
            if figures.graphql:
                if operation_name is not None:
                    text += f',"operation_name":{_escape(operation_name)}'
                text += f',"operation":{_escape(sample.operation)}'
                if operation_type is not None:
                    text += f',"operation_type":{_escape(operation_type)}'
                text += f',"error_codes":{_strings(figures.error_codes)}'
            elif sample.error_codes:
                text += f',"error_codes":{_strings(sample.error_codes)}'
            if figures.user is not None:
                text += f',"user":{_escape(figures.user)}'
        if figures.search_ms is not None:
            search_ms = round(figures.search_ms, 2)
            if type(search_ms) is not float or search_ms - search_ms != 0.0:
                return None
            text += f',"search_ms":{float.__repr__(search_ms)}'
    except TypeError:
        return None
    lambda_context = scope.get("aws.context")
    lambda_request_id = getattr(lambda_context, "aws_request_id", None)
    if isinstance(lambda_request_id, str):
        text += f',"lambda_request_id":{_escape(lambda_request_id)}'
    correlation_id = context.get("correlation_id") if context is not None else None
    if context is None or len(context) != 1 or type(correlation_id) is not str:
        return RenderedFields(REQUEST_FIELDS, text)
    # The middleware sets the request id as the correlation id: escaped once for both.
    escaped = request_id if correlation_id is figures.request_id else _escape(correlation_id)
    return RenderedFields(REQUEST_FIELDS, text, {"correlation_id": correlation_id}, _ID + escaped)


def _strings(values: Iterable[str]) -> str:
    return f"[{','.join([_escape(value) for value in values])}]"
