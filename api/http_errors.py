"""The JSON error body every non-GraphQL route answers with:
``{"error": {"code", "message", "requestId"}}``."""

import uuid

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response


def request_id_of(request: Request) -> str:
    """The id the request-id middleware gave this request (a fresh one if it did not run)."""
    request_id = getattr(request.state, "request_id", None)
    if not isinstance(request_id, str):
        request_id = uuid.uuid4().hex
        request.state.request_id = request_id
    return request_id


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "requestId": request_id_of(request)}}
    return JSONResponse(body, status_code=status, headers=headers)


_ROUTING_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


async def routing_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route: 404; a method the route does not take:
    405, with Allow) in the same body as every other route's, instead of plain text."""
    assert isinstance(exc, HTTPException)
    code = _ROUTING_CODES.get(exc.status_code, "BAD_REQUEST")
    headers = dict(exc.headers) if exc.headers else None
    return error_response(request, exc.status_code, code, exc.detail, headers)
