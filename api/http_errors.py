"""The JSON error body every non-GraphQL route answers with:
``{"error": {"code", "message", "requestId"}}``."""

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse


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
