"""The /graphql endpoint: Strawberry's ASGI view with our Context and a self-hosted IDE.

Request-level defences, before anything is parsed or resolved:
- the body is capped (413); a JSON array (batching) is refused by Strawberry, which has
  batching off;
- POST must be ``application/json``: the content types a browser may send cross-site
  without a preflight (form, multipart, text/plain) are refused (415), so a forged
  form cannot run a mutation (CSRF);
- a mutation over GET is refused with 405 (Strawberry's own answer is 400);
- with a persisted-operation allow-list (api/persisted_operations.py), only registered
  documents run; without one, a query runs as before;
- refusals are JSON ``{"errors": [{"message", "extensions": {"code", "requestId"}}]}``;
- anything unexpected outside the schema's own masking (building the context, reading
  the body) is answered 500 INTERNAL_SERVER_ERROR and logged once with the request id.
"""

import logging
import re
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema import BaseSchema

from api.context import build_context
from api.http_caching import conditional, digest, private_headers
from api.http_errors import request_id_of
from api.persisted_operations import (
    PersistedOperationRefusal,
    PersistedOperations,
    requested_hash,
    resolve_without_list,
)
from api.unavailable import whole_operation_unavailable
from domain.ports import TokenVerifier
from resolvers.context import Context
from resolvers.errors import INTERNAL_CODE, INTERNAL_MESSAGE, log_masked_error
from resolvers.services import Services

logger = logging.getLogger("demobackend.graphql")

JSON_TYPES = ("application/json",)
DEFAULT_MAX_BODY_BYTES = 64 * 1024
# ASCII digits only: str.isdigit() also takes "²", which int() then refuses.
_DIGITS = re.compile(r"[0-9]{1,20}")


class _BodyTooLargeError(Exception):
    pass


def _error(
    request: Request,
    status: int,
    message: str,
    code: str,
    headers: dict[str, str] | None = None,
) -> Response:
    extensions = {"code": code, "requestId": request_id_of(request)}
    body = {"errors": [{"message": message, "extensions": extensions}]}
    return JSONResponse(body, status_code=status, headers=headers)


class DemoGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        schema: BaseSchema,
        *,
        services: Services,
        verifier: TokenVerifier,
        ide_html: str | None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        persisted: PersistedOperations | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if ide_html is not None else None,
            # Subscriptions are not part of the contract; no websocket surface to defend.
            subscription_protocols=(),
        )
        self._services = services
        self._verifier = verifier
        self._ide_html = ide_html or ""
        self._max_body_bytes = max_body_bytes
        self._persisted = persisted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope)
        refusal = self._refuse(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, self._capped(receive)))
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
        data = await super().parse_http_body(request)
        if isinstance(data, list):
            return data
        if self._persisted is None and data.query is not None:
            return data  # the list is off and the text is there: exactly as before
        requested = requested_hash(data.extensions, await self._document_id(request))
        if self._persisted is None:
            data.query = resolve_without_list(data.query, requested)
        else:
            data.query = self._persisted.resolve(data.query, requested)
        return data

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
        assert isinstance(request, Request)  # subscriptions are off, so never a WebSocket
        context = await build_context(request, self._services, self._verifier)
        # Whose answer this is, for the ETag of a GET (request.state lives in the scope).
        request.state.viewer = context.principal.user_id if context.principal else ""
        return context

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
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
