"""build_app(settings): the one ASGI app, served by uvicorn locally and by Mangum on Lambda."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from api.bootstrap import Deps, build_deps
from api.cors import CorsMiddleware
from api.deadlines import DeadlineMiddleware
from api.graphql_view import DemoGraphQL
from api.health import ReadyCheck, healthz
from api.http_errors import routing_error
from api.persisted_operations import load_persisted_operations
from api.rate_limit import TokenBuckets
from api.request_ids import RequestIdMiddleware
from api.rest_mount import rest_mount
from api.share_routes import share_routes
from api.subscriptions import SubscriptionLimits, SubscriptionPolicy
from domain.errors import DomainError
from resolvers.limits import QueryLimits
from resolvers.schema import build_schema

if TYPE_CHECKING:
    from api.settings import Settings

logger = logging.getLogger(__name__)


def build_app(settings: Settings, deps: Deps | None = None, *, observe: bool = True) -> Starlette:
    """``observe=False`` leaves out logs, metrics and tracing (bench/observability.py)."""
    deps = deps or build_deps(settings)
    introspection = settings.introspection_enabled
    ide_html = _playground_html(sign_in=deps.dev_idp is not None) if introspection else None
    # One schema: /graphql and /rest.
    schema = build_schema(introspection=introspection, limits=query_limits(settings))
    # Read once here: a missing or bad file stops start-up with one SettingsError line.
    persisted = load_persisted_operations(settings.persisted_operations_file)
    graphql = DemoGraphQL(
        schema,
        services=deps.services,
        verifier=deps.verifier,
        ide_html=ide_html,
        max_body_bytes=settings.max_graphql_body_bytes,
        persisted=persisted,
        subscriptions=SubscriptionPolicy(
            services=deps.services,
            verifier=deps.verifier,
            limits=subscription_limits(settings),
            persisted=persisted,
            hide_suggestions=not introspection,
        ),
        init_timeout_seconds=settings.subscription_init_timeout_seconds,
        allowed_origins=settings.cors_origins,
    )
    routes: list[BaseRoute] = [
        # Every method reaches the view, which refuses all but GET and POST in its own
        # error shape (405 with Allow and a request id).
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", graphql),
        rest_mount(schema, services=deps.services, verifier=deps.verifier),
        *share_routes(
            deps.services.files,
            TokenBuckets(
                rate_per_second=settings.share_link_requests_per_second,
                burst=settings.share_link_burst,
            ),
        ),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", _ready_check(deps).endpoint, methods=["GET"]),
    ]
    if ide_html is not None:
        routes.append(_playground_assets())
    if deps.local_blobs is not None:
        from api.blob_routes import BLOBS_PATH, blob_routes

        accepts_upload = deps.services.files.accepts_upload
        routes.append(Mount(BLOBS_PATH, routes=blob_routes(deps.local_blobs, accepts_upload)))
    if deps.dev_idp is not None:
        from api.auth_routes import auth_routes

        routes.append(
            Mount("/auth", routes=auth_routes(deps.dev_idp, deps.services, deps.verifier))
        )

    observability = None
    if observe:
        from api.observability.setup import build_observability

        observability = build_observability(settings, deps.breakers)
        routes.extend(observability.routes)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sweep = _sweep_abandoned_uploads(deps, settings)
        resume = _resume_data_exports(deps)
        yield
        for task in (sweep, resume):
            if task is not None:
                task.cancel()
        await deps.aclose()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: routing_error},
    )
    if settings.cors_origins:  # none configured: no CORS header is ever sent
        app.add_middleware(CorsMiddleware, origins=settings.cors_origins)
    if observability is not None:
        from api.observability.middleware import ObservabilityMiddleware

        app.add_middleware(
            ObservabilityMiddleware,
            routes=routes,
            logger=observability.logger,
            recorders=observability.recorders,
            tracer=observability.tracer,
        )
    if settings.resilience:
        # Every request's deadline (api/deadlines.py), set before anything it runs starts.
        app.add_middleware(DeadlineMiddleware, timeout_seconds=settings.request_timeout_seconds)
    app.add_middleware(RequestIdMiddleware)  # outermost: the id exists before anything logs
    return app


def query_limits(settings: Settings) -> QueryLimits:
    return QueryLimits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_query_tokens,
        max_cost=settings.max_query_cost,
    )


def subscription_limits(settings: Settings) -> SubscriptionLimits:
    return SubscriptionLimits(
        per_connection=settings.subscriptions_per_connection,
        connections_per_user=settings.subscription_connections_per_user,
        max_message_bytes=settings.subscription_max_message_bytes,
        messages_per_second=settings.subscription_messages_per_second,
        message_burst=settings.subscription_message_burst,
        keepalive_seconds=settings.subscription_keepalive_seconds,
    )


def _ready_check(deps: Deps) -> ReadyCheck:
    return ReadyCheck(items=deps.items, blobs=deps.blobs, breakers=deps.breakers)


# The playground is off on AWS by default; its modules load only when it is served.
def _playground_html(*, sign_in: bool) -> str:
    from api.graphiql import graphiql_assets_dir, render_graphiql_html

    return render_graphiql_html(assets_dir=graphiql_assets_dir(), sign_in=sign_in)


def _playground_assets() -> Mount:
    from api.graphiql import GRAPHIQL_ASSETS_PATH, graphiql_assets_app, graphiql_assets_dir

    return Mount(GRAPHIQL_ASSETS_PATH, app=graphiql_assets_app(graphiql_assets_dir()))


def _resume_data_exports(deps: Deps) -> asyncio.Task[None] | None:
    """Builds of data exports run as tasks in the server: the ones a previous process left
    BUILDING (stopped, crashed) start again here. On Lambda every build has an invocation
    of its own, which Lambda retries; nothing is resumed at start-up there."""
    from adapters.exports.task_scheduler import TaskExportScheduler

    accounts = deps.services.accounts
    if accounts is None or not isinstance(deps.export_scheduler, TaskExportScheduler):
        return None
    exports = accounts.exports

    async def resume() -> None:
        try:
            for pending in await exports.pending():
                await exports.resume(pending)
        except DomainError:
            # The stores are down at start-up: those exports read as FAILED once stale.
            logger.warning("could not resume data exports", exc_info=True)

    return asyncio.create_task(resume())


def _sweep_abandoned_uploads(deps: Deps, settings: Settings) -> asyncio.Task[int] | None:
    """The local folder's stand-in for the bucket's lifecycle rule: bytes of uploads that
    were never completed are removed once their completion window has closed. It runs in
    the background so start-up does not wait on walking the folder."""
    if deps.local_blobs is None:
        return None
    window = settings.pending_upload_ttl_seconds + settings.upload_url_expiry_seconds
    return asyncio.create_task(deps.local_blobs.sweep_unconfirmed(window))
