"""The /graphql endpoint: Strawberry's ASGI view with our Context and a self-hosted IDE.

Request-level defences, before anything is parsed or resolved:
- the body is capped (413); a JSON array (batching) is refused by Strawberry, which has
  batching off;
- POST must be ``application/json``: the content types a browser may send cross-site
  without a preflight (form, multipart, text/plain) are refused (415), so a forged
  form cannot run a mutation (CSRF);
- a mutation over GET is refused with 405 (Strawberry's own answer is 400);
- refusals are JSON ``{"errors": [{"message", "extensions": {"code"}}]}``.
"""

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema

from api.context import build_context
from domain.ports import TokenVerifier
from resolvers.context import Context, Services

JSON_TYPES = ("application/json",)
DEFAULT_MAX_BODY_BYTES = 64 * 1024


class _BodyTooLargeError(Exception):
    pass


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
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
        except _BodyTooLargeError:
            response = self._too_large()
        except HTTPException as exc:
            response = self._http_error(request, exc)
        await response(scope, receive, send)

    def _refuse(self, request: Request) -> Response | None:
        declared = request.headers.get("content-length")
        if declared is not None and (
            not declared.isdigit() or int(declared) > self._max_body_bytes
        ):
            return self._too_large()
        if request.method == "POST":
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type not in JSON_TYPES:
                return _error(
                    415, "POST /graphql requires Content-Type: application/json", "BAD_REQUEST"
                )
        return None

    def _too_large(self) -> Response:
        return _error(
            413, f"Request body exceeds {self._max_body_bytes} bytes", "PAYLOAD_TOO_LARGE"
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
            return _error(405, exc.reason, "METHOD_NOT_ALLOWED", {"Allow": "POST"})
        code: dict[int, str] = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
        return _error(exc.status_code, exc.reason, code.get(exc.status_code, "BAD_REQUEST"))

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        assert isinstance(request, Request)  # subscriptions are off, so never a WebSocket
        return await build_context(request, self._services, self._verifier)

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self._ide_html)


__all__ = ["DemoGraphQL"]
