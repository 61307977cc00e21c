"""HTTP routes of the development identity provider, mounted under ``/auth`` in local mode
only (in Cognito mode they do not exist, so they answer 404)."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.identity.dev_idp import DevIdentityProvider
from api.context import build_context
from api.http_errors import error_response, request_id_of
from api.json_bodies import BodyTooLargeError, read_json_object
from domain.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    UnauthenticatedError,
)
from domain.ports import TokenVerifier
from resolvers.errors import INTERNAL_CODE, INTERNAL_MESSAGE, log_masked_error
from resolvers.services import Services

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
# ASCII digits only: header bytes arrive as latin-1, and "\xb2" ("²") passes str.isdigit()
# but not int().
JWKS_CACHE_CONTROL = "public, max-age=300"
# RFC 6749 5.1: responses carrying tokens must not be cached.
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# By class, walking the MRO, so a subclass (InvalidTokenError) maps like its parent.
_STATUS_BY_ERROR: dict[type[DomainError], int] = {
    InvalidInputError: 400,
    UnauthenticatedError: 401,
    ForbiddenError: 403,
    NotFoundError: 404,
    ConflictError: 409,
}


class _SignupBody(BaseModel):
    # strict: 123 is not a username; extra fields are ignored, as most APIs do.
    model_config = ConfigDict(strict=True, extra="ignore")

    username: str
    password: str
    email: str | None = None


class _TokenBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    username: str
    password: str


class _RefreshBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    refreshToken: str


class _PasswordBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    username: str
    oldPassword: str
    newPassword: str


BodyT = TypeVar("BodyT", bound=BaseModel)


def auth_routes(
    idp: DevIdentityProvider, services: Services, verifier: TokenVerifier
) -> list[BaseRoute]:
    async def signup(request: Request) -> Response:
        body = await _parse_body(request, _SignupBody)
        user = await idp.signup(body.username, body.password, body.email)
        return JSONResponse({"username": user.username, "userId": user.user_id}, status_code=201)

    async def token(request: Request) -> Response:
        data = await read_json_object(request, MAX_BODY_BYTES)
        if "refreshToken" in data:
            refresh = _validated(data, _RefreshBody)
            tokens = await idp.refresh(refresh.refreshToken)
        else:
            body = _validated(data, _TokenBody)
            tokens = await idp.authenticate(body.username, body.password)
        return JSONResponse(
            {
                "idToken": tokens.id_token,
                "accessToken": tokens.access_token,
                "refreshToken": tokens.refresh_token,
                "tokenType": tokens.token_type,
                "expiresIn": tokens.expires_in,
            },
            headers=_NO_STORE,
        )

    async def signout(request: Request) -> Response:
        # The same gate as /graphql: a token already voided cannot sign out again.
        context = await build_context(request, services, verifier)
        viewer = context.require_principal()
        if services.accounts is None:
            raise RuntimeError("the dev identity provider is built without accounts")
        await services.accounts.sign_out_everywhere(viewer)
        return Response(status_code=204, headers=_NO_STORE)

    async def password(request: Request) -> Response:
        body = await _parse_body(request, _PasswordBody)
        await idp.change_password(body.username, body.oldPassword, body.newPassword)
        return Response(status_code=204, headers=_NO_STORE)

    async def jwks(request: Request) -> Response:
        await idp.ensure_key()
        return JSONResponse(idp.jwks(), headers={"Cache-Control": JWKS_CACHE_CONTROL})

    return [
        Route("/signup", _guarded(signup), methods=["POST"]),
        Route("/token", _guarded(token), methods=["POST"]),
        Route("/signout", _guarded(signout), methods=["POST"]),
        Route("/password", _guarded(password), methods=["POST"]),
        Route("/.well-known/jwks.json", _guarded(jwks), methods=["GET"]),
    ]


def _guarded(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Turns every failure into the JSON error body; never a traceback."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except BodyTooLargeError as exc:
            # The documented error codes have no "too large"; the status says it.
            return error_response(request, 413, "BAD_USER_INPUT", str(exc))
        except DomainError as exc:
            return _domain_error(request, exc)
        except ClientDisconnect:
            # The client left before its body arrived: not a server error to log.
            return error_response(request, 400, "BAD_USER_INPUT", "Request body incomplete")
        except Exception as exc:
            return _internal_error(request, exc)

    return endpoint


def _domain_error(request: Request, exc: DomainError) -> Response:
    status = next(
        (_STATUS_BY_ERROR[cls] for cls in type(exc).__mro__ if cls in _STATUS_BY_ERROR), None
    )
    if status is None:  # StoreUnavailableError and the like: the caller did nothing wrong
        return _internal_error(request, exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return error_response(request, status, exc.code, str(exc), headers)


def _internal_error(request: Request, exc: Exception) -> Response:
    """Masked and logged once: the message of an unexpected error (a driver's, a store's)
    is for the log, never for the caller."""
    request_id = request_id_of(request)
    log_masked_error(logger, "auth route failed", exc, request_id)
    return error_response(request, 500, INTERNAL_CODE, INTERNAL_MESSAGE)


async def _parse_body(request: Request, model: type[BodyT]) -> BodyT:
    return _validated(await read_json_object(request, MAX_BODY_BYTES), model)


def _validated(data: dict[str, Any], model: type[BodyT]) -> BodyT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # Built from the field name and error kind only: pydantic's own text can echo the
        # submitted value, which may be a password.
        error = exc.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(part) for part in error["loc"])
        if error["type"] == "missing":
            raise InvalidInputError(f"Field '{field}' is required") from None
        raise InvalidInputError(f"Field '{field}' must be a string") from None
