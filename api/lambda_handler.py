"""AWS Lambda entry point: Mangum over the same app that uvicorn serves locally.

The app is built on the first invocation, not at import: importing stays as cheap as
the frameworks themselves, and a bad setting fails the invocation with one clear line.
The built app (settings, clients, JWKS cache) is then reused for the container's life.
"""

from typing import Any

from mangum import Mangum

from api.app import build_app
from api.settings import Settings, load_settings

_handler: Mangum | None = None


def build_handler(settings: Settings) -> Mangum:
    # lifespan off: a Lambda container is frozen, not shut down; nothing waits on it.
    return Mangum(build_app(settings), lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _handler
    if _handler is None:
        _handler = build_handler(load_settings())
    response: dict[str, Any] = _handler(event, context)
    return response
