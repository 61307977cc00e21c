"""AWS Lambda entry point: Mangum over the same app that uvicorn serves locally.

Import loads the app's code (schema, resolvers); settings and the adapters the settings
choose are loaded when the app is built, on the first invocation, and then reused for
the container's life (clients, JWKS cache). bench/cold_import.py measures both steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mangum import Mangum

from api.app import build_app

if TYPE_CHECKING:
    from api.settings import Settings

_handler: Mangum | None = None


def build_handler(settings: Settings) -> Mangum:
    # lifespan off: a Lambda container is frozen, not shut down; nothing waits on it.
    return Mangum(build_app(settings), lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _handler
    if _handler is None:
        from api.settings import load_settings

        _handler = build_handler(load_settings())
    response: dict[str, Any] = _handler(event, context)
    return response
