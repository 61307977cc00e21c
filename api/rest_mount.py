"""``/rest`` in the app's routes, with the REST shim (api/rest.py) and its OpenAPI document
imported and built on the first request under ``/rest``, not at start-up: a Lambda
container that only answers ``/graphql`` never pays for them (~9 ms of the cold import,
bench/cold_import.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute, Mount

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send
    from strawberry.schema import BaseSchema

    from domain.ports import TokenVerifier
    from resolvers.services import Services

REST_PATH = "/rest"


def rest_mount(schema: BaseSchema, *, services: Services, verifier: TokenVerifier) -> Mount:
    """``/rest`` and everything under it, whatever the path holds: Starlette's own pattern
    (``.*``) would leave a decoded newline in an id to the outer router's plain-text 404."""

    def build() -> ASGIApp:
        from api.rest import rest_app

        return rest_app(schema, services=services, verifier=verifier)

    mount = Mount(REST_PATH, app=BuiltOnFirstUse(build))
    mount.path_regex = re.compile(r"^/rest/(?P<path>.*)$", re.DOTALL)
    return mount


class BuiltOnFirstUse:
    """An ASGI app made by ``build()`` when first called (or its routes first listed),
    then reused. Building has no ``await``, so on one event loop it runs exactly once."""

    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        self._build = build
        self._app: ASGIApp | None = None

    @property
    def app(self) -> ASGIApp:
        if self._app is None:
            self._app = self._build()
        return self._app

    @property
    def routes(self) -> list[BaseRoute]:
        # What Mount.routes reads: the real app's, so route listings stay complete.
        routes: list[BaseRoute] = getattr(self.app, "routes", [])
        return routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
