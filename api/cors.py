"""CORS for browser apps: origins from settings (CORS_ORIGINS; none -> this middleware is not
installed and no CORS header is ever sent).

Covers ``/graphql``, ``/rest/*`` and, for direct-to-store uploads in local mode, ``/blobs/*``.
An allowed origin is echoed with ``Access-Control-Allow-Credentials: true``; with ``*``
configured the answer is a literal ``*`` and credentials are never allowed. A request from
any other origin gets no ``Access-Control-*`` header at all (its preflight: 403).

Written out rather than Starlette's CORSMiddleware, which sends Expose-Headers (and
Allow-Credentials) to origins it does not allow.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CORS_PATHS = ("/graphql",)
CORS_PATH_PREFIXES = ("/rest/", "/blobs/")
ALLOW_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ALLOW_HEADERS = (
    "authorization",
    "content-type",
    "if-match",
    "if-none-match",
    "x-amz-checksum-sha256",
    "x-request-id",
)
# Retry-After: a browser app can only honour a 503's wait if it may read it.
EXPOSE_HEADERS = (
    "ETag",
    "Location",
    "Retry-After",
    "WWW-Authenticate",
    "X-Request-Id",
    "x-amz-checksum-sha256",
)
MAX_AGE_SECONDS = 600


class CorsMiddleware:
    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        self.app = app
        configured = tuple(origins)
        self.any_origin = "*" in configured
        self.origins = frozenset(origin.rstrip("/") for origin in configured if origin != "*")

    def _allow_origin(self, origin: str) -> str | None:
        """The Access-Control-Allow-Origin value for ``origin``; None when not allowed."""
        if origin in self.origins:
            return origin
        return "*" if self.any_origin else None

    def _cors_headers(self, allowed: str) -> dict[str, str]:
        headers = {"Access-Control-Allow-Origin": allowed}
        if allowed != "*":  # never credentials with a wildcard
            headers["Access-Control-Allow-Credentials"] = "true"
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not (
            path in CORS_PATHS or path.startswith(CORS_PATH_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = self._allow_origin(origin)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(allowed, headers, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                response_headers.add_vary_header("Origin")
                if allowed is not None:
                    response_headers.update(self._cors_headers(allowed))
                    response_headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSE_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, allowed: str | None, headers: Headers, send: Send) -> None:
        method = headers["access-control-request-method"].strip().upper()
        requested = [
            name.strip().lower()
            for name in headers.get("access-control-request-headers", "").split(",")
            if name.strip()
        ]
        ok = (
            allowed is not None
            and method in ALLOW_METHODS
            and all(name in ALLOW_HEADERS for name in requested)
        )
        response_headers: dict[str, str] = {"Vary": "Origin", "Content-Length": "0"}
        if ok and allowed is not None:
            response_headers.update(self._cors_headers(allowed))
            response_headers["Access-Control-Allow-Methods"] = ", ".join(ALLOW_METHODS)
            response_headers["Access-Control-Allow-Headers"] = ", ".join(ALLOW_HEADERS)
            response_headers["Access-Control-Max-Age"] = str(MAX_AGE_SECONDS)
        await send(
            {
                "type": "http.response.start",
                "status": 200 if ok else 403,
                "headers": [
                    (name.lower().encode("latin-1"), value.encode("latin-1"))
                    for name, value in response_headers.items()
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})
