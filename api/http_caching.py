"""Validators for HTTP caches: ``ETag`` + ``If-None-Match`` -> 304 where it is safe.

Per-viewer answers (profiles, files, GraphQL GETs of persisted queries) get an ETag that
hashes the viewer's id together with the exact bytes of the answer, and
``Cache-Control: private, no-cache`` with ``Vary: Authorization``: a shared cache must not
store them, a browser must revalidate them, and one user's tag never matches another's
answer even where an intermediary (wrongly) keys by URL alone. The 304 is decided only
after the request ran with the caller's own permissions, so it never confirms anything
the caller could not read.
"""

import hashlib
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

PRIVATE_REVALIDATE = "private, no-cache"
VARY = "Authorization"


def digest(*parts: str | bytes) -> str:
    hashed = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        hashed.update(len(data).to_bytes(8, "big"))  # no two splits hash alike
        hashed.update(data)
    return hashed.hexdigest()[:32]


def matches(request: Request, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, RFC 9110 13.1.2)."""
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def not_modified(headers: Mapping[str, str]) -> Response:
    """304 with the validators and caching headers the 200 would have carried."""
    return Response(status_code=304, headers=dict(headers))


def private_headers(etag: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": PRIVATE_REVALIDATE, "Vary": VARY}


def conditional(request: Request, content: bytes, headers: dict[str, str]) -> Response | None:
    """The 304 to answer instead of ``content`` when the caller already holds it."""
    if request.method in ("GET", "HEAD") and matches(request, headers["ETag"]):
        return not_modified(headers)
    return None
