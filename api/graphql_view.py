"""The /graphql endpoint: Strawberry's ASGI view with our Context and a self-hosted IDE."""

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema

from api.context import build_context
from domain.ports import TokenVerifier
from resolvers.context import Context, Services


class DemoGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        schema: BaseSchema,
        *,
        services: Services,
        verifier: TokenVerifier,
        ide_html: str | None,
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

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        assert isinstance(request, Request)  # subscriptions are off, so never a WebSocket
        return await build_context(request, self._services, self._verifier)

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self._ide_html)
