"""get_context: one Context per request, with the caller's Principal and fresh loaders."""

from starlette.requests import Request

from api.auth import principal_from_authorization
from api.http_errors import request_id_of
from domain.errors import DomainError
from domain.ports import TokenVerifier
from resolvers.context import Context
from resolvers.services import Services


async def build_context(request: Request, services: Services, verifier: TokenVerifier) -> Context:
    principal, auth_error = await principal_from_authorization(
        request.headers.get("authorization"), verifier
    )
    profile = None
    if principal is not None:
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
    if profile is not None:
        # The read that checked the sign-out mark also serves `me` and `owner` edges.
        context.loaders.user_by_id.prime(profile.id, profile)
    return context
