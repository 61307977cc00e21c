"""build_app(settings): the one ASGI app, served by uvicorn locally and by Mangum on Lambda."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from api.bootstrap import Deps, build_deps
from api.graphql_view import DemoGraphQL
from api.health import ReadyCheck, healthz
from api.request_ids import RequestIdMiddleware
from resolvers.schema import build_schema

if TYPE_CHECKING:
    from api.settings import Settings


def build_app(settings: Settings, deps: Deps | None = None) -> Starlette:
    deps = deps or build_deps(settings)
    introspection = settings.introspection_enabled
    ide_html = _playground_html() if introspection else None
    graphql = DemoGraphQL(
        build_schema(introspection=introspection),
        services=deps.services,
        verifier=deps.verifier,
        ide_html=ide_html,
    )
    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", ReadyCheck(items=deps.items, blobs=deps.blobs).endpoint, methods=["GET"]),
    ]
    if ide_html is not None:
        routes.append(_playground_assets())
    if deps.local_blobs is not None:
        from api.blob_routes import BLOBS_PATH, blob_routes

        routes.append(Mount(BLOBS_PATH, routes=blob_routes(deps.local_blobs)))
    if deps.dev_idp is not None:
        from api.auth_routes import auth_routes

        routes.append(Mount("/auth", routes=auth_routes(deps.dev_idp)))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await deps.aclose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(RequestIdMiddleware)
    return app


# The playground is off on AWS by default; its modules load only when it is served.
def _playground_html() -> str:
    from api.graphiql import graphiql_assets_dir, render_graphiql_html

    return render_graphiql_html(assets_dir=graphiql_assets_dir())


def _playground_assets() -> Mount:
    from api.graphiql import GRAPHIQL_ASSETS_PATH, graphiql_assets_app, graphiql_assets_dir

    return Mount(GRAPHIQL_ASSETS_PATH, app=graphiql_assets_app(graphiql_assets_dir()))
