"""The /graphql endpoint: Strawberry's ASGI view with our Context and a self-hosted IDE.

Request-level defences, before anything is parsed or resolved:
- the body is capped (413); a JSON array (batching) is refused by Strawberry, which has
  batching off;
- POST must be ``application/json``: the content types a browser may send cross-site
  without a preflight (form, multipart, text/plain) are refused (415), so a forged
  form cannot run a mutation (CSRF);
- a mutation over GET is refused with 405 (Strawberry's own answer is 400);
- the response media type follows Accept (api/graphql_media.py): with
  ``application/graphql-response+json`` a request error answers 400 without ``data``;
  an Accept allowing no JSON type at all is refused (406);
- with a persisted-operation allow-list (api/persisted_operations.py), only registered
  documents run; without one, a query runs as before;
- refusals are JSON ``{"errors": [{"message", "extensions": {"code", "requestId"}}]}``;
- anything unexpected outside the schema's own masking (building the context, reading
  the body) is answered 500 INTERNAL_SERVER_ERROR and logged once with the request id.
"""

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from api.context import build_context
from api.graphql_media import GRAPHQL_RESPONSE_JSON, JSON, negotiate, request_error_status
from api.http_caching import conditional, digest, private_headers
from api.http_errors import request_id_of
from api.persisted_operations import (
    PersistedOperationRefusal,
    PersistedOperations,
    requested_hash,
    resolve_without_list,
)
from api.subscriptions import (
    DemoTransportWSHandler,
    LimitedWebSocketAdapter,
    SubscriptionPolicy,
)
from api.unavailable import whole_operation_unavailable
from domain.ports import TokenVerifier
from resolvers.context import Context
from resolvers.errors import INTERNAL_CODE, INTERNAL_MESSAGE, log_masked_error
from resolvers.operation_selection import BAD_REQUEST_CODE
from resolvers.services import Services

logger = logging.getLogger("demobackend.graphql")

JSON_TYPES = ("application/json",)
# Content-Type values parsed without Strawberry's ``email.message`` round trip.
PLAIN_JSON_CONTENT_TYPES = frozenset(
    {"application/json", "application/json; charset=utf-8", "application/json;charset=utf-8"}
)
DEFAULT_MAX_BODY_BYTES = 64 * 1024
# ASCII digits only: str.isdigit() also takes "²", which int() then refuses.
_DIGITS = re.compile(r"[0-9]{1,20}")


class _BodyTooLargeError(Exception):
    pass


def _media_type(request: Request) -> str:
    """The negotiated response media type (application/json before negotiation)."""
    media_type = getattr(request.state, "graphql_media_type", None)
    return media_type if isinstance(media_type, str) else JSON


def _error(
    request: Request,
    status: int,
    message: str,
    code: str,
    headers: dict[str, str] | None = None,
) -> Response:
    extensions = {"code": code, "requestId": request_id_of(request)}
    body = {"errors": [{"message": message, "extensions": extensions}]}
    return JSONResponse(body, status_code=status, headers=headers, media_type=_media_type(request))


class _IndexedHeaders(Headers):
    """Starlette's request headers, looked up in a dict made on the first lookup: the view
    and its context ask for ~6 headers per request, each otherwise a scan that decodes as
    it goes (and a KeyError raised and caught for an absent one). The first of repeated
    names wins and names match as sent, lowercase, as in Starlette's scan."""

    _index: dict[str, str] | None = None

    def _indexed(self) -> dict[str, str]:
        index = self._index
        if index is None:
            index = {}
            for key, value in self.raw:
                index.setdefault(key.decode("latin-1"), value.decode("latin-1"))
            self._index = index
        return index

    def __getitem__(self, key: str) -> str:
        return self._indexed()[key.lower()]

    def get(self, key: str, default: Any = None) -> Any:
        return self._indexed().get(key.lower(), default)

    def __contains__(self, key: Any) -> bool:
        return key.lower() in self._indexed()


class _Request(Request):
    """The view's Request: Starlette's, with its headers indexed once (``_IndexedHeaders``)
    and its body read without ``stream()``'s async generator and ``aclosing`` (~3 µs per
    request): the same messages taken the same way, the same errors
    (tests/unit/test_graphql_view_parity.py holds it to Starlette's)."""

    @property
    def headers(self) -> Headers:
        headers: Headers | None = getattr(self, "_headers", None)
        if headers is None:
            headers = self._headers = _IndexedHeaders(scope=self.scope)
        return headers

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            if self._stream_consumed:
                raise RuntimeError("Stream consumed")
            chunks: list[bytes] = []
            while not self._stream_consumed:
                message = await self._receive()
                if message["type"] == "http.request":
                    chunk = message.get("body", b"")
                    if not message.get("more_body", False):
                        self._stream_consumed = True
                    if chunk:
                        chunks.append(chunk)
                elif message["type"] == "http.disconnect":
                    self._is_disconnected = True
                    raise ClientDisconnect()
            self._body = b"".join(chunks)
        return self._body


class _SubResponse(Response):
    """Strawberry's per-request sub-response as Strawberry leaves it (no status, no
    headers, no background), without building a body's headers only to delete them: a
    few microseconds per request. Nothing can change it (our Context does not carry it)
    and it is never sent: ``create_response`` copies what it holds into the answer
    (tests/unit/test_graphql_view_parity.py)."""

    def __init__(self) -> None:
        self.status_code = None  # type: ignore[assignment]  # Strawberry's "none set"
        self.background = None
        self.body = b""
        self.raw_headers = []


class DemoGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = DemoTransportWSHandler
    websocket_adapter_class = LimitedWebSocketAdapter

    def __init__(
        self,
        schema: BaseSchema,
        *,
        services: Services,
        verifier: TokenVerifier,
        ide_html: str | None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        persisted: PersistedOperations | None = None,
        subscriptions: SubscriptionPolicy | None = None,
        init_timeout_seconds: float = 10.0,
        allowed_origins: tuple[str, ...] = (),
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if ide_html is not None else None,
            # graphql-transport-ws only (api/subscriptions.py); the legacy
            # subscriptions-transport-ws protocol is never offered.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,) if subscriptions else (),
            connection_init_wait_timeout=timedelta(seconds=init_timeout_seconds),
            max_subscriptions_per_connection=(
                subscriptions.limits.per_connection if subscriptions else None
            ),
            # Browsers on other origins may open the socket only from the CORS origins.
            allowed_origins=allowed_origins,
        )
        self.subscription_policy = subscriptions
        self._services = services
        self._verifier = verifier
        self._ide_html = ide_html or ""
        self._max_body_bytes = max_body_bytes
        self._persisted = persisted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        await self._answer(scope, receive, send, self.run)

    async def answer_single_post(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The Lambda fast path's endpoint (api/lambda_graphql.py): the same refusals,
        errors and responses as ``__call__``, around a lean run for the only requests that
        path admits (one POSTed JSON object, no streaming Accept)."""
        await self._answer(scope, receive, send, self._run_single_post)

    def takes_stream(self, accept: str) -> bool:
        """Whether this Accept asks for a streamed (SSE, multipart) answer."""
        return self._get_stream_transport_from_headers({"accept": accept}) is not None

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        run: Callable[[Request], Awaitable[Response]],
    ) -> None:
        # One Request for the checks and the run: its headers are decoded once, and the
        # refusals never read the body, so the capped receive is only used by the run.
        request = _Request(scope, self._capped(receive))
        refusal = self._refuse(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        try:
            response = self._as_negotiated(request, await run(request))
            if request.method == "GET" and response.status_code == 200:
                response = self._validated(request, response)
        except _BodyTooLargeError:
            response = self._too_large(request)
        except HTTPException as exc:
            response = self._http_error(request, exc)
        except PersistedOperationRefusal as exc:
            response = _error(request, exc.status, exc.message, exc.code)
        except ClientDisconnect:
            # The body ended early (a Content-Length longer than what was sent): the
            # client's doing, not a server error to log. Nobody may be left to read this.
            response = _error(request, 400, "The request body ended early", "BAD_REQUEST")
        except Exception as exc:
            # The schema masks resolver errors itself; this is everything around it. Left
            # to Starlette, it would answer plain text without the request id.
            log_masked_error(logger, "unexpected error in /graphql", exc, request_id_of(request))
            response = _error(request, 500, INTERNAL_MESSAGE, INTERNAL_CODE)
        await response(scope, receive, send)

    async def _run_single_post(self, request: Request) -> Response:
        """Strawberry's ``run`` less what a single POSTed JSON operation never needs: the
        WebSocket branch, the method and playground checks (POST passes both), the batch
        and streaming dispatch, the no-op error hook. Same hooks, same order."""
        request_adapter = self.request_adapter_class(request)
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, response=sub_response)
        request_data = await self.parse_http_body(request_adapter)
        if isinstance(request_data, list) or request_data.protocol != "http":
            # The fast path admits neither; answered as the full run would be refused.
            raise HTTPException(400, "Batching and streaming are not served on this path")
        result = await self.execute_single(
            request=request,
            request_adapter=request_adapter,
            sub_response=sub_response,
            context=context,
            root_value=None,  # get_root_value is not overridden: None
            request_data=request_data,
        )
        response_data = await self.process_result(request=request, result=result)
        return self.create_response(response_data=response_data, sub_response=sub_response)

    @staticmethod
    def _validated(request: Request, response: Response) -> Response:
        """A query over GET (a persisted one, typically) gets a per-viewer ETag and
        answers 304 when the caller holds this very answer (api/http_caching.py)."""
        if not response.headers.get("content-type", "").startswith("application/"):
            return response  # the playground's HTML
        viewer = getattr(request.state, "viewer", "")
        headers = private_headers(f'"{digest(viewer, bytes(response.body))}"')
        response.headers.update(headers)
        return conditional(request, bytes(response.body), headers) or response

    def _refuse(self, request: Request) -> Response | None:
        # First, so that the other refusals answer in the negotiated media type.
        unacceptable = self._negotiate(request)
        if unacceptable is not None:
            return unacceptable
        if request.method not in ("GET", "POST"):
            return _error(
                request,
                405,
                "/graphql takes GET (queries) and POST",
                "METHOD_NOT_ALLOWED",
                {"Allow": "GET, POST"},
            )
        declared = request.headers.get("content-length")
        if declared is not None and (
            not _DIGITS.fullmatch(declared) or int(declared) > self._max_body_bytes
        ):
            return self._too_large(request)
        if request.method == "POST":
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type not in JSON_TYPES:
                return _error(
                    request,
                    415,
                    "POST /graphql requires Content-Type: application/json",
                    "BAD_REQUEST",
                )
        return None

    def _negotiate(self, request: Request) -> Response | None:
        """Picks the response media type (kept on the request's state), or refuses: 406."""
        # Only a GET can ask for the playground (should_render_graphql_ide's first check):
        # a POST skips building the adapter that asks.
        if request.method == "GET" and self.should_render_graphql_ide(
            self.request_adapter_class(request)
        ):
            return None  # the playground's HTML page, not a GraphQL response
        media_type = negotiate(request.headers.get("accept"))
        if media_type is None:
            return _error(
                request,
                406,
                f"/graphql answers {GRAPHQL_RESPONSE_JSON} or {JSON}; the Accept header allows "
                "neither",
                "NOT_ACCEPTABLE",
            )
        request.state.graphql_media_type = media_type
        return None

    @staticmethod
    def _as_negotiated(request: Request, response: Response) -> Response:
        """Strawberry always answers application/json 200; under the new media type the
        content type is that type, and a request error answers its status (400)."""
        if _media_type(request) != GRAPHQL_RESPONSE_JSON or response.media_type != JSON:
            return response
        response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
        status = getattr(request.state, "graphql_request_error_status", None)
        if isinstance(status, int):
            response.status_code = status
        return response

    def _too_large(self, request: Request) -> Response:
        return _error(
            request,
            413,
            f"Request body exceeds {self._max_body_bytes} bytes",
            "PAYLOAD_TOO_LARGE",
        )

    def _capped(self, receive: Receive) -> Receive:
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self._max_body_bytes:
                    raise _BodyTooLargeError
            return message

        return capped

    @staticmethod
    def _http_error(request: Request, exc: HTTPException) -> Response:
        if request.method == "GET" and exc.status_code == 400 and "not allowed" in exc.reason:
            # "mutations are not allowed when using GET": a method problem, so 405.
            return _error(request, 405, exc.reason, "METHOD_NOT_ALLOWED", {"Allow": "POST"})
        code: dict[int, str] = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
        return _error(
            request, exc.status_code, exc.reason, code.get(exc.status_code, "BAD_REQUEST")
        )

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """Strawberry's parsing (batches refused there), then the allow-list: the document
        that runs is the registered one, chosen before anything is parsed as GraphQL."""
        lean = await self._parse_posted_object(request)
        data = lean if lean is not None else await super().parse_http_body(request)
        if isinstance(data, list):
            return data
        if not isinstance(data.operation_name, str | None):
            # Strawberry checks query, variables and extensions this way, not the name.
            raise HTTPException(
                400, "The GraphQL operation's `operationName` must be a string or null."
            )
        if self._persisted is None and data.query is not None:
            return data  # the list is off and the text is there: exactly as before
        requested = requested_hash(data.extensions, await self._document_id(request))
        if self._persisted is None:
            data.query = resolve_without_list(data.query, requested)
        else:
            data.query = self._persisted.resolve(data.query, requested)
        return data

    async def _parse_posted_object(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | None:
        """Strawberry's parsing of a POSTed JSON object, less its two header scans, or None
        where they could matter (then Strawberry parses). The Content-Type is one of the
        common spellings that Strawberry's parse (through ``email.message``) files as
        JSON, matched exactly: ``_refuse`` admits more (``APPLICATION/JSON``, say, which
        Strawberry answers 400), and those keep Strawberry's answer. With no HTTP stream
        transport on, no Accept selects one, so the protocol is "http". The messages are
        Strawberry's, word for word (tests/unit/test_graphql_view_parity.py)."""
        if (
            request.method != "POST"
            or request.content_type not in PLAIN_JSON_CONTENT_TYPES
            or self._stream_transport_map
        ):
            return None
        data = self.parse_json(await request.get_body())
        if not isinstance(data, dict):
            return None  # a batch: Strawberry refuses it (the body is read once, cached)
        query = data.get("query")
        if not isinstance(query, str | None):
            raise HTTPException(
                400, "The GraphQL operation's `query` must be a string or null, if provided."
            )
        variables = data.get("variables")
        if not isinstance(variables, dict | None):
            raise HTTPException(
                400,
                "The GraphQL operation's `variables` must be an object or null, if provided.",
            )
        extensions = data.get("extensions")
        if not isinstance(extensions, dict | None):
            raise HTTPException(
                400,
                "The GraphQL operation's `extensions` must be an object or null, if provided.",
            )
        return GraphQLRequestData(
            query=query,
            variables=variables,
            operation_name=data.get("operationName"),
            extensions=extensions,
            protocol="http",
        )

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            return await super().execute_single(
                request=request,
                request_adapter=request_adapter,
                sub_response=sub_response,
                context=context,
                root_value=root_value,
                request_data=request_data,
            )
        except HTTPException as exc:
            if not isinstance(exc.__cause__, CannotGetOperationTypeError):
                raise
            # An operationName naming no operation: a request error like any other, so it
            # answers by the negotiated media type instead of a bare 400.
            extensions = {"code": BAD_REQUEST_CODE, "requestId": context.request_id}
            return ExecutionResult(
                data=None, errors=[GraphQLError(exc.reason, extensions=extensions)]
            )

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        status = request_error_status(result.data, result.errors)
        if status is not None and _media_type(request) == GRAPHQL_RESPONSE_JSON:
            # The spec's request error has no data entry; application/json keeps its null.
            response.pop("data", None)
            request.state.graphql_request_error_status = status
        return response

    def encode_json(self, data: object) -> str:
        # orjson is ~20x faster than json.dumps on a 20-file page's answer (3 KB). Its text
        # is kept only when ASCII, so strings keep json's \u escapes byte for byte; what it
        # refuses (an integer beyond 64 bits) goes to json. Floats are the same numbers,
        # sometimes spelt otherwise (0.00001 for 1e-05). A str, not bytes: subscriptions
        # send what this returns as text frames.
        try:
            encoded = orjson.dumps(data)
        except TypeError:
            pass
        else:
            if encoded.isascii():
                return encoded.decode()
        return json.dumps(data, separators=(",", ":"))

    def parse_json(self, data: str | bytes) -> Any:
        # Strawberry turns only JSONDecodeError into a 400: bytes that are not UTF-8, huge
        # integers, JSON nested past the recursion limit and a body that is a number or a
        # string would otherwise escape as exceptions.
        try:
            parsed = super().parse_json(data)
        except (ValueError, RecursionError):  # not UTF-8, an integer of 5000 digits, ...
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "Expected a JSON object")
        return parsed

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        if request.method != "GET":  # Strawberry's answer too; asked twice per POST
            return False
        # A GET naming a persisted document is an operation, not a visit to the playground.
        params = request.query_params
        if params.get("documentId") is not None or params.get("extensions") is not None:
            return False
        return super().should_render_graphql_ide(request)

    async def _document_id(self, request: AsyncHTTPRequestAdapter) -> object:
        # Strawberry keeps only query/variables/operationName/extensions; documentId
        # (GraphQL-over-HTTP persisted documents) is read from the same, cached, body.
        if request.method == "GET":
            return request.query_params.get("documentId")
        raw: Any = self.parse_json(await request.get_body())
        return raw.get("documentId") if isinstance(raw, dict) else None

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        if isinstance(request, WebSocket):
            # One per connection; the principal is set from connection_init's payload.
            return Context(request_id=uuid.uuid4().hex, services=self._services)
        context = await build_context(request, self._services, self._verifier, defer_check=True)
        # Whose answer this is, for the ETag of a GET (request.state lives in the scope).
        request.state.viewer = context.principal.user_id if context.principal else ""
        return context

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        return _SubResponse()

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        if type(sub_response) is _SubResponse and not (
            sub_response.raw_headers or sub_response.background or sub_response.status_code
        ):
            # Strawberry's response less merging a sub-response that holds nothing (two
            # header views built per request only to copy no header).
            response = Response(
                self.encode_json(response_data), status_code=200, media_type="application/json"
            )
        else:
            response = super().create_response(response_data, sub_response)
        if isinstance(response_data, dict):
            wait = whole_operation_unavailable(response_data)
            if wait is not None:
                response.status_code = 503
                response.headers["Retry-After"] = str(wait)
        return response

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self._ide_html)


__all__ = ["DemoGraphQL"]
