"""get_context: one Context per request, with the caller's Principal and fresh loaders."""

import functools

from starlette.datastructures import URL
from starlette.requests import Request

from api.auth import principal_from_authorization
from api.http_errors import request_id_of
from domain.errors import DomainError
from domain.models import User
from domain.ports import TokenVerifier
from resolvers.context import Context
from resolvers.services import Services


async def build_context(
    request: Request, services: Services, verifier: TokenVerifier, *, defer_check: bool = False
) -> Context:
    """With ``defer_check`` (a GraphQL operation follows, under the SessionCheckScope
    extension) the sign-out check rides on the operation's first store call; otherwise it
    is made here, one read of its own."""
    principal, auth_error = await principal_from_authorization(
        request.headers.get("authorization"), verifier
    )
    profile = None
    checks = services.session_checks if defer_check else None
    if principal is not None and checks is None:
        try:
            profile = await services.profiles.ensure_profile(principal)
        except DomainError as error:
            principal, auth_error = None, error
    context = Context(
        request_id=request_id_of(request),
        services=services,
        principal=principal,
        auth_error=auth_error,
        base_url=services.public_url or _origin_of(request),
    )
    if principal is not None and checks is not None:
        context.session_check = checks.begin(
            principal, admitted=lambda user: _prime(context, user), refused=context.refuse
        )
    if profile is not None:
        _prime(context, profile)
    return context


def _prime(context: Context, viewer: User) -> None:
    # The read that checked the sign-out mark also serves `me` and `owner` edges.
    context.loaders.user_by_id.prime(viewer.id, viewer)


def _origin_of(request: Request) -> str:
    """``{request.url.scheme}://{request.url.netloc}``: scheme and host only, since
    request.base_url would carry a mount's path (/rest). Starlette builds and parses the
    whole URL for that on every request; the answer depends only on these four values."""
    scope = request.scope
    server = scope.get("server")
    return _origin(
        scope.get("scheme", "http"),
        None if server is None else tuple(server),
        scope["path"],
        request.headers.get("host"),
    )


# Bounded: the Host header is the caller's to choose.
@functools.lru_cache(maxsize=256)
def _origin(scheme: str, server: tuple[str, int] | None, path: str, host: str | None) -> str:
    headers = [] if host is None else [(b"host", host.encode("latin-1"))]
    scope = {"type": "http", "scheme": scheme, "server": server, "path": path, "headers": headers}
    url = URL(scope=scope)
    return f"{url.scheme}://{url.netloc}"
