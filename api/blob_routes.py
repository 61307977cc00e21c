"""The local blob endpoint, mounted under ``/blobs`` in local mode only: the URLs the
LocalBlobStore signs land here. ``PUT /blobs/<key>?…`` stores the raw body, ``GET`` (and
``HEAD``) answers it as an attachment. The store judges every request; this module only
speaks HTTP."""

import logging
import re
from collections.abc import Awaitable, Callable

from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from adapters.blobs.local.store import (
    BLOBS_PATH,
    BlobTooLargeError,
    IncomingUpload,
    LocalBlobStore,
)
from adapters.blobs.rules import CHECKSUM_HEADER, sha256_hex_to_b64
from api.http_errors import error_response, request_id_of
from domain.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)

__all__ = ["BLOBS_PATH", "blob_routes"]

logger = logging.getLogger(__name__)

# Order matters: the first class in the list that matches wins.
_STATUS_BY_ERROR: tuple[tuple[type[DomainError], int], ...] = (
    (BlobTooLargeError, 413),
    (InvalidInputError, 400),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
)
_DIGITS = re.compile(r"[0-9]{1,19}")
_DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Belt and braces with "attachment": should a browser render it anyway, no scripts.
    "Content-Security-Policy": "sandbox; default-src 'none'",
    # The URL is a short-lived capability; shared caches must not keep what it returned.
    "Cache-Control": "private, no-store",
}


def blob_routes(
    store: LocalBlobStore, accepts_upload: Callable[[str], Awaitable[bool]]
) -> list[BaseRoute]:
    """``accepts_upload(key)``: whether a file still waits for bytes at ``key``; a PUT
    to any other key is refused (409) however valid its URL."""

    async def blob(request: Request) -> Response:
        key: str = request.path_params["key"]
        if request.method == "PUT":
            return await _upload(store, request, key, accepts_upload)
        return await _download(store, request, key)

    return [Route("/{key:path}", _guarded(blob), methods=["GET", "HEAD", "PUT"])]


async def _upload(
    store: LocalBlobStore,
    request: Request,
    key: str,
    accepts_upload: Callable[[str], Awaitable[bool]],
) -> Response:
    upload = IncomingUpload(
        key=key,
        query=request.query_params,
        content_type=_single_header(request, "content-type"),
        content_length=_content_length(request),
        checksum_sha256=_single_header(request, CHECKSUM_HEADER),
    )
    if "uploadId" in request.query_params:
        # A multipart upload's part: the store knows whether its upload is still open.
        part = await store.receive_part(upload, request.stream())
        return Response(status_code=200, headers={"ETag": part.etag})
    info = await store.receive_upload(upload, request.stream(), accepts_upload)
    headers = {CHECKSUM_HEADER: sha256_hex_to_b64(info.sha256)} if info.sha256 else None
    return Response(status_code=200, headers=headers)


async def _download(store: LocalBlobStore, request: Request, key: str) -> Response:
    download = await store.open_download(key, request.query_params)
    headers = {
        "Content-Type": download.info.content_type,
        "Content-Length": str(download.info.size),
        "Content-Disposition": download.content_disposition,
        **_DOWNLOAD_HEADERS,
    }
    if request.method == "HEAD":
        await download.aclose()
        return Response(headers=headers)
    # iter_bytes closes the file when done; the task covers a response never streamed.
    return StreamingResponse(
        download.iter_bytes(), headers=headers, background=BackgroundTask(download.aclose)
    )


def _single_header(request: Request, name: str) -> str | None:
    values = request.headers.getlist(name)
    return values[0] if len(values) == 1 else None


def _content_length(request: Request) -> int | None:
    values = request.headers.getlist("content-length")
    if not values:
        return None
    if len(values) != 1 or not _DIGITS.fullmatch(values[0]):
        raise InvalidInputError("Invalid Content-Length header")
    return int(values[0])


def _guarded(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Every failure becomes the JSON error body; never a traceback, never the URL (its
    query holds the signature)."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ClientDisconnect:
            logger.info(
                "blob upload abandoned by the client (request id %s)", request_id_of(request)
            )
            return error_response(request, 400, "BAD_USER_INPUT", "Upload incomplete")
        except DomainError as exc:
            status = next((code for cls, code in _STATUS_BY_ERROR if isinstance(exc, cls)), None)
            if status is not None:
                return error_response(request, status, exc.code, str(exc))
            logger.error("blob route: %s (request id %s)", exc, request_id_of(request))
            return error_response(request, 500, "INTERNAL_SERVER_ERROR", "Internal server error")
        except Exception:
            logger.exception("blob route failed (request id %s)", request_id_of(request))
            return error_response(request, 500, "INTERNAL_SERVER_ERROR", "Internal server error")

    return endpoint
