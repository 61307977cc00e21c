"""``GET /s/<token>``: a share link followed by anyone, no sign-in. A working link answers
302 to a short-lived presigned download and counts it; every other token (unknown,
expired, used up, revoked, file deleted, malformed) answers the same 404 body, so a
caller learns nothing about which. Each client IP is rate limited (429 with Retry-After).
The token is a capability: it never reaches a log line (the access log records the route
pattern, not the path)."""

import math

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from api.http_errors import error_response
from api.rate_limit import TokenBuckets
from domain.files import FileService

SHARE_ROUTE = "/s/{token}"
NOT_FOUND_BODY_MESSAGE = "Link not found"


def share_routes(files: FileService, buckets: TokenBuckets) -> list[Route]:
    async def follow(request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        wait = buckets.take(client)
        if wait > 0:
            return error_response(
                request,
                429,
                "TOO_MANY_REQUESTS",
                "Too many requests; try again later",
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )
        url = await files.follow_share_link(request.path_params["token"])
        if url is None:
            return error_response(request, 404, "NOT_FOUND", NOT_FOUND_BODY_MESSAGE)
        return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})

    return [Route(SHARE_ROUTE, follow, methods=["GET"])]
