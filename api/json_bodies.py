"""The JSON object body of a request outside GraphQL (/auth, /rest), read with a byte cap.

Bad input raises InvalidInputError (the routes answer 400); a body over the cap raises
BodyTooLargeError (413). The cap holds while streaming too: Content-Length may be absent
(chunked) or wrong.
"""

import json
import re
from typing import Any

from starlette.requests import Request

from domain.errors import InvalidInputError

# ASCII digits only: str.isdigit() also takes "²", which int() then refuses.
_CONTENT_LENGTH = re.compile(r"[0-9]{1,19}")


class BodyTooLargeError(Exception):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"Request body exceeds {max_bytes} bytes")


async def read_json_object(request: Request, max_bytes: int) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not _CONTENT_LENGTH.fullmatch(declared):
            raise InvalidInputError("Invalid Content-Length header")
        if int(declared) > max_bytes:
            raise BodyTooLargeError(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise BodyTooLargeError(max_bytes)
    try:
        data = json.loads(body, parse_constant=_no_constants)
    except (ValueError, RecursionError):  # not UTF-8, 5,000-digit integers, deep nesting
        raise InvalidInputError("Request body must be valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidInputError("Request body must be a JSON object")
    return data


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python accepts them, JSON not
