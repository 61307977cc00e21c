"""get_context: one Context per request, with the caller's Principal and fresh loaders."""

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
        # Scheme and host only: request.base_url would carry a mount's path (/rest).
        base_url=services.public_url or f"{request.url.scheme}://{request.url.netloc}",
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
