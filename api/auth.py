"""Authentication at the HTTP edge: a bearer token becomes a Principal (or an error that
is raised when the request first touches data; anonymous requests carry neither)."""

from domain.errors import DomainError, InvalidTokenError
from domain.models import Principal
from domain.ports import TokenVerifier

_BEARER = "bearer"


async def principal_from_authorization(
    authorization: str | None, verifier: TokenVerifier
) -> tuple[Principal | None, DomainError | None]:
    if authorization is None or not authorization.strip():
        return None, None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != _BEARER or not token.strip():
        return None, InvalidTokenError()
    try:
        return await verifier.verify(token.strip()), None
    except InvalidTokenError as error:
        return None, error
