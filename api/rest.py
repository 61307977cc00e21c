"""The REST shim under ``/rest`` (routes: docs/ARCHITECTURE.md "HTTP surfaces"): every
route runs ONE named GraphQL document (api/rest_documents.py) against the same schema object
and the same per-request Context as ``/graphql``. No business rule lives here: the shim
reads HTTP (path, query, JSON body, ``If-Match``), runs the document, and turns ``data`` or
``errors[0].extensions.code`` into a status and a JSON body. Errors answer
``{"error": {"code", "message", "requestId"}}``.

Status choices that are the shim's own:
- a file or user the GraphQL answer gives as ``null`` -> 404 NOT_FOUND;
- CONFLICT -> 412 when the request carried ``If-Match`` (the precondition failed), else 409;
- ``GET /rest/files/{id}/download`` of a PENDING file -> 409 CONFLICT (no bytes yet);
- a body over ``MAX_BODY_BYTES`` -> 413 (code BAD_USER_INPUT, as the /auth routes do).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from strawberry.schema import BaseSchema

from api import rest_documents as docs
from api.context import build_context
from api.http_caching import conditional, digest, private_headers
from api.http_errors import error_response, request_id_of
from api.json_bodies import BodyTooLargeError, read_json_object
from api.openapi import openapi_document
from api.unavailable import SERVICE_UNAVAILABLE, retry_after
from domain.errors import InvalidInputError
from domain.ports import TokenVerifier
from resolvers.errors import log_masked_error
from resolvers.services import Services

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
DOWNLOAD_URL_SECONDS = 60
INTERNAL = "INTERNAL_SERVER_ERROR"

STATUS_BY_CODE: Mapping[str, int] = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "BAD_USER_INPUT": 400,
    "CONFLICT": 409,
    "QUERY_TOO_COMPLEX": 400,
    SERVICE_UNAVAILABLE: 503,
    "INDEX_REBUILDING": 503,
    INTERNAL: 500,
}
_PATCHABLE = frozenset({"name", "description", "tags", "visibility"})
_SEARCH_TYPES = frozenset({"FILE", "USER"})
_SHARE_LINK_FIELDS = frozenset({"expiresIn", "maxDownloads"})
_INT = re.compile(r"-?[0-9]{1,10}")
# ASCII digits only: header bytes arrive as latin-1, and "\xb2" ("²") passes str.isdigit()
# but not int().
# The ETag of a file is "<version>-<per-viewer digest>"; If-Match takes it as sent, or the
# bare version.
_IF_MATCH = re.compile(r'\s*(?:(\*)|([0-9]{1,10})|"([0-9]{1,10})(?:-[0-9a-f]{32})?")\s*')
OPENAPI_CACHE_CONTROL = "public, max-age=300"

Handler = Callable[[Request], Awaitable[Response]]


class RestError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def rest_app(schema: BaseSchema, *, services: Services, verifier: TokenVerifier) -> Starlette:
    """The ASGI app mounted at ``/rest``; unknown paths and methods answer the JSON error."""
    api = _RestApi(schema, services, verifier)
    routes = [
        Route("/openapi.json", _guarded(api.openapi), methods=["GET"]),
        Route("/me", _guarded(api.me), methods=["GET"]),
        Route("/users/{id}", _guarded(api.user), methods=["GET"]),
        Route("/files", _guarded(api.files), methods=["GET", "POST"]),
        Route("/files/{id}", _guarded(api.file), methods=["GET", "PATCH", "DELETE"]),
        Route("/files/{id}/complete", _guarded(api.complete), methods=["POST"]),
        Route("/files/{id}/parts", _guarded(api.parts), methods=["GET", "POST"]),
        Route("/files/{id}/abort", _guarded(api.abort), methods=["POST"]),
        Route("/files/{id}/download", _guarded(api.download), methods=["GET"]),
        Route("/files/{id}/share-links", _guarded(api.share_links), methods=["GET", "POST"]),
        Route("/share-links/{id}", _guarded(api.revoke_share_link), methods=["DELETE"]),
        Route("/search", _guarded(api.search), methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_exception})


class _RestApi:
    def __init__(self, schema: BaseSchema, services: Services, verifier: TokenVerifier) -> None:
        self._schema = schema
        self._services = services
        self._verifier = verifier
        self._openapi: tuple[bytes, dict[str, str]] | None = None

    async def run(
        self,
        request: Request,
        document: str,
        operation: str,
        variables: dict[str, Any],
        *,
        precondition: bool = False,
    ) -> dict[str, Any]:
        """``data`` of the document's answer, or a RestError built from ``errors[0]``."""
        context = await build_context(request, self._services, self._verifier, defer_check=True)
        # Whose answer this is: part of every ETag, so caches never mix two users' answers.
        request.state.viewer = context.principal.user_id if context.principal else ""
        result = await self._schema.execute(
            document, variable_values=variables, context_value=context, operation_name=operation
        )
        if result.errors:
            error = result.errors[0]
            code = str((error.extensions or {}).get("code") or INTERNAL)
            status = STATUS_BY_CODE.get(code, 500)
            if code == "CONFLICT" and precondition:
                status = 412
            message = error.message if status != 500 else "Internal server error"
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            if status == 503:
                headers = {"Retry-After": str(retry_after([error.formatted]) or 1)}
            raise RestError(status, code, message, headers)
        if result.data is None:
            raise RestError(500, INTERNAL, "Internal server error")
        return dict(result.data)

    # --- routes ---

    async def openapi(self, request: Request) -> Response:
        if self._openapi is None:
            content = _render(openapi_document())
            headers = {"ETag": f'"{digest(content)}"', "Cache-Control": OPENAPI_CACHE_CONTROL}
            self._openapi = (content, headers)
        content, headers = self._openapi
        return conditional(request, content, headers) or _json(content, 200, headers)

    async def me(self, request: Request) -> Response:
        data = await self.run(request, docs.ME, "RestMe", {})
        return _private(request, data["me"])

    async def user(self, request: Request) -> Response:
        data = await self.run(request, docs.USER, "RestUser", {"id": request.path_params["id"]})
        return _private(request, _found(data["user"], "User"))

    async def files(self, request: Request) -> Response:
        if request.method == "POST":
            body = await _json_object(request)
            data = await self.run(request, docs.CREATE_UPLOAD, "RestCreateUpload", {"input": body})
            payload = data["createUpload"]
            file = payload["file"]
            content = _render(payload)
            headers = {
                "Location": f"/rest/files/{quote(file['id'], safe='')}",
                "ETag": _file_etag(request, file),
                "Cache-Control": "no-store",  # it holds the upload's signed form
            }
            return _json(content, 201, headers)
        variables = _page_params(request, backward=True)
        data = await self.run(request, docs.MY_FILES, "RestMyFiles", variables)
        connection = data["myFiles"]
        items = [edge["node"] for edge in connection["edges"]]
        return _private(request, {"items": items, "pageInfo": connection["pageInfo"]})

    async def file(self, request: Request) -> Response:
        file_id: str = request.path_params["id"]
        if request.method == "GET":
            data = await self.run(request, docs.FILE, "RestFile", {"id": file_id})
            return _file(request, _found(data["file"], "File"))
        expected = _if_match(request)
        if request.method == "DELETE":
            variables: dict[str, Any] = {"id": file_id, "expectedVersion": expected}
            await self.run(
                request,
                docs.DELETE_FILE,
                "RestDeleteFile",
                variables,
                precondition=expected is not None,
            )
            return Response(status_code=204)
        body = await _json_object(request)
        unknown = sorted(set(body) - _PATCHABLE)
        if unknown:
            raise RestError(
                400,
                "BAD_USER_INPUT",
                f"Unknown field '{unknown[0]}'; allowed: {', '.join(sorted(_PATCHABLE))}",
            )
        update = {**body, "id": file_id, "expectedVersion": expected}
        data = await self.run(
            request,
            docs.UPDATE_FILE,
            "RestUpdateFile",
            {"input": update},
            precondition=expected is not None,
        )
        return _file(request, data["updateFile"])

    async def complete(self, request: Request) -> Response:
        variables: dict[str, Any] = {"id": request.path_params["id"]}
        # A multipart upload sends {"parts": [...]}; a single one sends no body.
        if await request.body():
            body = await _json_object(request)
            unknown = sorted(set(body) - {"parts"})
            if unknown:
                raise RestError(
                    400, "BAD_USER_INPUT", f"Unknown field '{unknown[0]}'; allowed: parts"
                )
            variables["parts"] = body.get("parts")
        data = await self.run(request, docs.COMPLETE_UPLOAD, "RestCompleteUpload", variables)
        return _file(request, data["completeUpload"])

    async def parts(self, request: Request) -> Response:
        file_id: str = request.path_params["id"]
        if request.method == "GET":
            data = await self.run(
                request, docs.UPLOADED_PARTS, "RestUploadedParts", {"id": file_id}
            )
            return _private(request, {"items": _found(data["file"], "File")["uploadedParts"]})
        body = await _json_object(request)
        unknown = sorted(set(body) - {"partNumbers", "sha256"})
        if unknown or "partNumbers" not in body:
            raise RestError(
                400,
                "BAD_USER_INPUT",
                'The body is {"partNumbers": [1, 2, ...]}, with "sha256": ["<hex>", ...] '
                "for an upload created with partChecksums",
            )
        variables = {
            "id": file_id,
            "partNumbers": body["partNumbers"],
            "sha256": body.get("sha256"),
        }
        data = await self.run(request, docs.UPLOAD_PARTS, "RestUploadParts", variables)
        return JSONResponse({"items": data["uploadParts"]}, headers={"Cache-Control": "no-store"})

    async def abort(self, request: Request) -> Response:
        variables = {"id": request.path_params["id"]}
        await self.run(request, docs.ABORT_UPLOAD, "RestAbortUpload", variables)
        return Response(status_code=204)

    async def download(self, request: Request) -> Response:
        variables = {"id": request.path_params["id"], "expiresIn": DOWNLOAD_URL_SECONDS}
        data = await self.run(request, docs.DOWNLOAD, "RestDownload", variables)
        file = _found(data["file"], "File")
        url = file["downloadUrl"]
        if file["status"] != "READY" or not url:
            raise RestError(409, "CONFLICT", "The file has no bytes yet (status PENDING)")
        # The URL is a capability: it goes to the client only, never to a log line.
        return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})

    async def share_links(self, request: Request) -> Response:
        file_id: str = request.path_params["id"]
        if request.method == "POST":
            body = await _json_object(request)
            unknown = sorted(set(body) - _SHARE_LINK_FIELDS)
            if unknown:
                allowed = ", ".join(sorted(_SHARE_LINK_FIELDS))
                raise RestError(
                    400, "BAD_USER_INPUT", f"Unknown field '{unknown[0]}'; allowed: {allowed}"
                )
            # Omitted expiresIn keeps the schema's default (7 days); null is refused.
            variables: dict[str, Any] = {"fileId": file_id, **body}
            data = await self.run(request, docs.CREATE_SHARE_LINK, "RestCreateShareLink", variables)
            return JSONResponse(data["createShareLink"], status_code=201)
        data = await self.run(request, docs.SHARE_LINKS, "RestShareLinks", {"id": file_id})
        return JSONResponse({"items": _found(data["file"], "File")["shareLinks"]})

    async def revoke_share_link(self, request: Request) -> Response:
        variables = {"id": request.path_params["id"]}
        await self.run(request, docs.REVOKE_SHARE_LINK, "RestRevokeShareLink", variables)
        return Response(status_code=204)

    async def search(self, request: Request) -> Response:
        query = request.query_params.get("q")
        if query is None:
            raise RestError(400, "BAD_USER_INPUT", "Query parameter 'q' is required")
        variables: dict[str, Any] = {"query": query, **_page_params(request)}
        types = _search_types(request)
        if types is not None:
            variables["types"] = types
        data = await self.run(request, docs.SEARCH, "RestSearch", variables)
        connection = data["search"]
        items = [
            {
                "type": edge["node"]["__typename"],
                "score": edge["score"],
                "highlights": edge["highlights"],
                "node": {k: v for k, v in edge["node"].items() if k != "__typename"},
            }
            for edge in connection["edges"]
        ]
        return JSONResponse({"items": items, "pageInfo": connection["pageInfo"]})


# --- HTTP reading ---


def _found(value: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    """``file``/``user`` answer null for missing and unreadable alike: both are 404."""
    if value is None:
        raise RestError(404, "NOT_FOUND", f"{kind} not found")
    return value


# --- answers and their validators ---


def _render(body: Any) -> bytes:
    return bytes(JSONResponse(body).body)


def _json(content: bytes, status: int, headers: dict[str, str]) -> Response:
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def _private(request: Request, body: Any) -> Response:
    """A per-viewer answer: its ETag hashes the viewer and the bytes (api/http_caching)."""
    content = _render(body)
    headers = private_headers(f'"{digest(request.state.viewer, content)}"')
    return conditional(request, content, headers) or _json(content, 200, headers)


def _file_etag(request: Request, file: Mapping[str, Any]) -> str:
    # The version first: If-Match conditions writes on it. The digest makes the tag the
    # viewer's own and changes when anything shown changes (an owner's display name).
    content = _render(file)
    return f'"{file["version"]}-{digest(request.state.viewer, content)}"'


def _file(request: Request, file: Mapping[str, Any]) -> Response:
    content = _render(file)
    headers = private_headers(_file_etag(request, file))
    return conditional(request, content, headers) or _json(content, 200, headers)


def _if_match(request: Request) -> int | None:
    """``If-Match: 3`` or ``If-Match: "3"`` -> expectedVersion 3; ``*`` -> no condition.
    Weak tags (``W/"3"``), lists and anything else are refused: versions compare strongly."""
    values = request.headers.getlist("if-match")
    if not values:
        return None
    match = _IF_MATCH.fullmatch(values[0]) if len(values) == 1 else None
    if match is None:
        raise RestError(
            400,
            "BAD_USER_INPUT",
            'If-Match must be one version: 3 or "3" (weak tags and lists are not accepted)',
        )
    if match.group(1):
        return None
    return int(match.group(2) or match.group(3))


def _page_params(request: Request, *, backward: bool = False) -> dict[str, Any]:
    """``first``/``after``, and with ``backward`` also ``last``/``before``; ranked search
    pages forward only, so there they are refused rather than ignored. Mixing directions
    is left to the schema, which refuses it as GraphQL does."""
    sizes, cursors = ["first"], ["after"]
    if backward:
        sizes.append("last")
        cursors.append("before")
    else:
        refused = [name for name in ("last", "before") if name in request.query_params]
        if refused:
            raise RestError(
                400, "BAD_USER_INPUT", f"Query parameter '{refused[0]}' is not supported here"
            )
    variables: dict[str, Any] = {}
    for name in sizes:
        value = request.query_params.get(name)
        if value is not None:
            if not _INT.fullmatch(value):
                raise RestError(
                    400, "BAD_USER_INPUT", f"Query parameter '{name}' must be an integer"
                )
            variables[name] = int(value)
    for name in cursors:
        value = request.query_params.get(name)
        if value is not None:
            variables[name] = value
    return variables


def _search_types(request: Request) -> list[str] | None:
    """``type=FILE``, repeated or comma-separated, any case; absent -> every type."""
    raw = request.query_params.getlist("type")
    if not raw:
        return None
    types = [part.strip().upper() for value in raw for part in value.split(",")]
    if not types or any(kind not in _SEARCH_TYPES for kind in types):
        raise RestError(400, "BAD_USER_INPUT", "Query parameter 'type' must be FILE or USER")
    return list(dict.fromkeys(types))


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        return await read_json_object(request, MAX_BODY_BYTES)
    except InvalidInputError as exc:
        raise RestError(400, "BAD_USER_INPUT", str(exc)) from None


# --- errors ---


def _guarded(handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except RestError as exc:
            return error_response(request, exc.status, exc.code, exc.message, exc.headers)
        except BodyTooLargeError as exc:
            return error_response(request, 413, "BAD_USER_INPUT", str(exc))
        except ClientDisconnect:
            # The client left before its body arrived: nothing failed on our side, so no
            # error log. The 400 is for the record; no one is left to receive it.
            return error_response(request, 400, "BAD_USER_INPUT", "Request body incomplete")
        except Exception as exc:
            log_masked_error(logger, "REST route failed", exc, request_id_of(request))
            return error_response(request, 500, INTERNAL, "Internal server error")

    return endpoint


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (no such route or method) in the same JSON shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return error_response(
            request, 405, "BAD_USER_INPUT", "Method not allowed", dict(exc.headers or {})
        )
    code = "NOT_FOUND" if exc.status_code == 404 else "BAD_USER_INPUT"
    return error_response(request, exc.status_code, code, str(exc.detail))
