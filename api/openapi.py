"""The OpenAPI 3.1 description of the REST shim, served at ``GET /rest/openapi.json``.

Hand-written next to api/rest.py (each route's shape is the named GraphQL document it runs,
api/rest_documents.py); tests/functional/test_rest_openapi.py validates it and checks the
live server against it."""

from __future__ import annotations

import copy
import functools
from typing import Any

JSON = "application/json"
_NULLABLE_STRING = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_STRINGS = {"type": "array", "items": {"type": "string"}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
    }


_SCHEMAS: dict[str, Any] = {
    "UserRef": _object(
        {"id": {"type": "string"}, "username": {"type": "string"}, "displayName": _NULLABLE_STRING}
    ),
    "User": _object(
        {
            "id": {"type": "string"},
            "username": {"type": "string"},
            "displayName": _NULLABLE_STRING,
            "email": {
                "type": ["string", "null"],
                "description": "null unless the viewer is this user or an admin",
            },
            "groups": _STRINGS,
            "createdAt": _TIME,
        }
    ),
    "File": _object(
        {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "contentType": {"type": "string"},
            "size": {"type": "integer", "format": "int64"},
            "sha256": _NULLABLE_STRING,
            "status": {"type": "string", "enum": ["PENDING", "READY"]},
            "visibility": {"type": "string", "enum": ["PRIVATE", "PUBLIC"]},
            "description": _NULLABLE_STRING,
            "tags": _STRINGS,
            "version": {"type": "integer", "description": "the ETag; send it back as If-Match"},
            "createdAt": _TIME,
            "updatedAt": _TIME,
            "owner": _ref("UserRef"),
            "sharedWith": {"type": "array", "items": _ref("UserRef")},
        }
    ),
    "UploadTarget": _object(
        {
            "url": {"type": "string"},
            "method": {"type": "string", "enum": ["PUT", "POST"]},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "expiresAt": _TIME,
        }
    ),
    "CreateUploadInput": {
        **_object(
            {
                "name": {"type": "string"},
                "contentType": {"type": "string"},
                "size": {"type": "integer", "format": "int64", "minimum": 0},
                "sha256": {"type": ["string", "null"], "description": "lowercase hex"},
                "description": _NULLABLE_STRING,
                "tags": {"type": ["array", "null"], "items": {"type": "string"}},
                "visibility": {"type": "string", "enum": ["PRIVATE", "PUBLIC"]},
                "multipart": {
                    "type": "boolean",
                    "description": "send the bytes in parts (always so above the threshold)",
                },
                "partChecksums": {
                    "type": "boolean",
                    "description": "multipart: every part is sent with its SHA-256 "
                    "(POST /parts then requires sha256), checked by the store; required "
                    "for multipart files over MULTIPART_INLINE_VERIFY_MAX_BYTES",
                },
            },
            optional=(
                "sha256",
                "description",
                "tags",
                "visibility",
                "multipart",
                "partChecksums",
            ),
        ),
        "additionalProperties": False,
    },
    "MultipartTarget": _object(
        {
            "partSize": {"type": "integer", "format": "int64"},
            "partCount": {"type": "integer"},
            "expiresAt": _TIME,
            "partChecksums": {"type": "boolean"},
        }
    ),
    "CreateUploadPayload": _object(
        {
            "file": _ref("File"),
            "upload": {"oneOf": [_ref("UploadTarget"), {"type": "null"}]},
            "multipart": {"oneOf": [_ref("MultipartTarget"), {"type": "null"}]},
        }
    ),
    "UploadPart": _object(
        {
            "partNumber": {"type": "integer"},
            "url": {"type": "string"},
            "method": {"type": "string", "enum": ["PUT"]},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        }
    ),
    "UploadPartPage": _object({"items": {"type": "array", "items": _ref("UploadPart")}}),
    "UploadedParts": _object({"items": {"type": "array", "items": {"type": "integer"}}}),
    "UploadPartsInput": {
        **_object(
            {
                "partNumbers": {"type": "array", "items": {"type": "integer"}},
                "sha256": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "each part's SHA-256 (lowercase hex), in the order of "
                    "partNumbers: required for an upload created with partChecksums, "
                    "refused otherwise",
                },
            },
            optional=("sha256",),
        ),
        "additionalProperties": False,
    },
    "CompleteUploadInput": {
        "type": "object",
        "properties": {
            "parts": {
                "type": "array",
                "items": {
                    **_object(
                        {
                            "partNumber": {"type": "integer"},
                            "etag": {"type": "string"},
                            "sha256": _NULLABLE_STRING,
                        },
                        optional=("sha256",),
                    ),
                    "additionalProperties": False,
                },
            }
        },
        "additionalProperties": False,
    },
    "UpdateFileInput": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "description": _NULLABLE_STRING,
            "tags": {"type": "array", "items": {"type": "string"}},
            "visibility": {"type": "string", "enum": ["PRIVATE", "PUBLIC"]},
        },
        "additionalProperties": False,
    },
    "ShareLink": _object(
        {
            "id": {"type": "string"},
            "url": {
                "type": "string",
                "description": "the link; only in the answer that created it, else empty",
            },
            "expiresAt": _TIME,
            "downloads": {"type": "integer"},
            "maxDownloads": {"type": ["integer", "null"]},
            "createdAt": _TIME,
        }
    ),
    "ShareLinkPage": _object({"items": {"type": "array", "items": _ref("ShareLink")}}),
    "CreateShareLinkInput": {
        "type": "object",
        "properties": {
            "expiresIn": {
                "type": "integer",
                "minimum": 60,
                "maximum": 2_592_000,
                "description": "seconds; default 604800 (7 days)",
            },
            "maxDownloads": {"type": ["integer", "null"], "minimum": 1},
        },
        "additionalProperties": False,
    },
    "PageInfo": _object(
        {
            "hasNextPage": {"type": "boolean"},
            "endCursor": _NULLABLE_STRING,
            "hasPreviousPage": {"type": "boolean"},
            "startCursor": _NULLABLE_STRING,
        }
    ),
    "FilePage": _object(
        {"items": {"type": "array", "items": _ref("File")}, "pageInfo": _ref("PageInfo")}
    ),
    "SearchHit": _object(
        {
            "type": {"type": "string", "enum": ["File", "User"]},
            "score": {"type": "number"},
            "highlights": _STRINGS,
            "node": {"anyOf": [_ref("File"), _ref("User")]},
        }
    ),
    "SearchPage": _object(
        {"items": {"type": "array", "items": _ref("SearchHit")}, "pageInfo": _ref("PageInfo")}
    ),
    "Error": _object(
        {
            "error": _object(
                {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "requestId": {"type": "string"},
                }
            )
        }
    ),
}

_ERROR_TEXT = {
    "400": "Invalid input (BAD_USER_INPUT, QUERY_TOO_COMPLEX)",
    "401": "No or invalid bearer token (UNAUTHENTICATED); carries WWW-Authenticate: Bearer",
    "403": "Not allowed (FORBIDDEN)",
    "404": "Missing, or not readable by the caller (NOT_FOUND)",
    "409": "State conflict (CONFLICT)",
    "412": "If-Match named a version the file has moved past",
    "413": "Request body larger than 64 KiB",
    "500": "Unexpected failure (INTERNAL_SERVER_ERROR), logged with the request id",
    "503": "A dependency is down or slow, or the request ran out of time "
    "(SERVICE_UNAVAILABLE); retry after the Retry-After seconds",
}


def _errors(*statuses: str) -> dict[str, Any]:
    return {
        status: {"description": _ERROR_TEXT[status], "content": {JSON: {"schema": _ref("Error")}}}
        for status in statuses
    }


def _ok(schema_name: str, description: str, *, etag: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": _ref(schema_name)}},
    }
    if etag:
        response["headers"] = {
            "ETag": {
                "description": 'the version and a per-viewer digest: "3-<32 hex>"; send it '
                "back as If-Match, or as If-None-Match for a 304",
                "schema": {"type": "string"},
            }
        }
    return response


def _body(schema_name: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": _ref(schema_name)}}}


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_PAGING = [
    {
        "name": "first",
        "in": "query",
        "schema": {"type": "integer"},
        "description": "page size (1-100)",
    },
    {"name": "after", "in": "query", "schema": {"type": "string"}, "description": "endCursor"},
]
_BACKWARD_PAGING = [
    *_PAGING,
    {
        "name": "last",
        "in": "query",
        "schema": {"type": "integer"},
        "description": "page backward: page size (1-100); not with first or after",
    },
    {
        "name": "before",
        "in": "query",
        "schema": {"type": "string"},
        "description": "page backward: a startCursor (or any edge's cursor)",
    },
]
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": 'the version the change is based on: the ETag as sent, 3 or "3" (weak '
    "tags are refused)",
    "schema": {
        "type": "string",
        "pattern": '^(\\*|[0-9]{1,9}|"[0-9]{1,9}(-[0-9a-f]{32})?")$',
    },
}
_READ_ERRORS = ("400", "401", "403", "404", "500", "503")
_WRITE_ERRORS = ("400", "401", "403", "404", "409", "413", "500", "503")


def _op(operation_id: str, summary: str, **rest: Any) -> dict[str, Any]:
    return {"operationId": operation_id, "summary": summary, **rest}


_PATHS: dict[str, Any] = {
    "/rest/me": {
        "get": _op(
            "getMe",
            "The caller's profile",
            responses={"200": _ok("User", "The caller"), **_errors(*_READ_ERRORS)},
        )
    },
    "/rest/users/{id}": {
        "get": _op(
            "getUser",
            "A user's profile (email and groups only for self or admins)",
            parameters=[_ID],
            responses={"200": _ok("User", "The user"), **_errors(*_READ_ERRORS)},
        )
    },
    "/rest/files": {
        "get": _op(
            "listMyFiles",
            "The caller's files, newest first (GraphQL myFiles)",
            parameters=_BACKWARD_PAGING,
            responses={"200": _ok("FilePage", "A page of files"), **_errors(*_READ_ERRORS)},
        ),
        "post": _op(
            "createUpload",
            "Declare a file; send its bytes to the returned upload target, then complete it",
            requestBody=_body("CreateUploadInput"),
            responses={
                "201": {
                    **_ok("CreateUploadPayload", "The PENDING file and where to send the bytes"),
                    "headers": {
                        "Location": {"schema": {"type": "string"}},
                        "ETag": {"schema": {"type": "string"}},
                    },
                },
                **_errors(*_WRITE_ERRORS),
            },
        ),
    },
    "/rest/files/{id}": {
        "get": _op(
            "getFile",
            "A file the caller may read",
            parameters=[_ID],
            responses={"200": _ok("File", "The file", etag=True), **_errors(*_READ_ERRORS)},
        ),
        "patch": _op(
            "updateFile",
            "Change name, description, tags or visibility (owner or admin)",
            parameters=[_ID, _IF_MATCH],
            requestBody=_body("UpdateFileInput"),
            responses={
                "200": _ok("File", "The updated file", etag=True),
                **_errors(*_WRITE_ERRORS, "412"),
            },
        ),
        "delete": _op(
            "deleteFile",
            "Delete a file and its bytes (owner or admin)",
            parameters=[_ID, _IF_MATCH],
            responses={
                "204": {"description": "Deleted"},
                **_errors("400", "401", "403", "404", "409", "412", "500"),
            },
        ),
    },
    "/rest/files/{id}/complete": {
        "post": _op(
            "completeUpload",
            "Verify the stored bytes and make the file READY (idempotent); a multipart upload "
            "sends its parts",
            parameters=[_ID],
            requestBody={
                "required": False,
                "content": {JSON: {"schema": _ref("CompleteUploadInput")}},
            },
            responses={
                "200": _ok("File", "The READY file", etag=True),
                **_errors("400", "401", "403", "404", "409", "500"),
            },
        )
    },
    "/rest/files/{id}/parts": {
        "get": _op(
            "uploadedParts",
            "Part numbers the store has received of a PENDING multipart upload (owner only)",
            parameters=[_ID],
            responses={"200": _ok("UploadedParts", "The part numbers"), **_errors(*_READ_ERRORS)},
        ),
        "post": _op(
            "uploadParts",
            "Presigned targets for these parts (at most 100); call again to resume or refresh",
            parameters=[_ID],
            requestBody=_body("UploadPartsInput"),
            responses={
                "200": _ok("UploadPartPage", "One target per part"),
                **_errors("400", "401", "403", "404", "413", "500", "503"),
            },
        ),
    },
    "/rest/files/{id}/abort": {
        "post": _op(
            "abortUpload",
            "Cancel a PENDING upload: frees its quota and stored parts",
            parameters=[_ID],
            responses={
                "204": {"description": "Aborted"},
                **_errors("400", "401", "403", "404", "409", "500", "503"),
            },
        )
    },
    "/rest/files/{id}/download": {
        "get": _op(
            "downloadFile",
            "Redirect to a fresh short-lived URL of the bytes; permission checked every call",
            parameters=[_ID],
            responses={
                "302": {
                    "description": "Location is a presigned URL valid for 60 s",
                    "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
                },
                **_errors("400", "401", "403", "404", "500"),
                "409": {
                    "description": "The file is still PENDING (no bytes yet)",
                    "content": {JSON: {"schema": _ref("Error")}},
                },
            },
        )
    },
    "/rest/files/{id}/share-links": {
        "get": _op(
            "listShareLinks",
            "The file's unexpired share links (owner or admin; empty for other readers)",
            parameters=[_ID],
            responses={"200": _ok("ShareLinkPage", "The links"), **_errors(*_READ_ERRORS)},
        ),
        "post": _op(
            "createShareLink",
            "A link anyone may follow, without signing in, to download a READY file",
            parameters=[_ID],
            requestBody=_body("CreateShareLinkInput"),
            responses={
                "201": _ok("ShareLink", "The new link; its url is shown only here"),
                **_errors("400", "401", "403", "404", "413", "500"),
            },
        ),
    },
    "/rest/share-links/{id}": {
        "delete": _op(
            "revokeShareLink",
            "Revoke a share link (owner or admin); it answers 404 from then on",
            parameters=[_ID],
            responses={
                "204": {"description": "Revoked"},
                **_errors("400", "401", "403", "404", "500"),
            },
        )
    },
    "/rest/search": {
        "get": _op(
            "search",
            "Full-text search over files and users the caller may see",
            parameters=[
                {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}},
                {
                    "name": "type",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["FILE", "USER"]},
                    "description": "FILE or USER; repeat or comma-separate for both",
                },
                *_PAGING,
            ],
            responses={"200": _ok("SearchPage", "A page of hits"), **_errors(*_READ_ERRORS)},
        )
    },
    "/rest/openapi.json": {
        "get": _op(
            "openapi",
            "This document",
            security=[],
            responses={"200": {"description": "OpenAPI 3.1", "content": {JSON: {}}}},
        )
    },
}


@functools.cache
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "DemoBackend REST",
            "version": "1.0.0",
            "description": (
                "A thin shim over the GraphQL schema at /graphql: each route runs one named "
                'GraphQL document. Errors: {"error": {"code", "message", "requestId"}}.'
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": _PATHS,
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def openapi_document() -> dict[str, Any]:
    return copy.deepcopy(_document())
