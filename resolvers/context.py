"""The per-request Context every resolver receives through ``strawberry.Info[Context]``."""

from dataclasses import dataclass, field

from domain.errors import DomainError, UnauthenticatedError
from domain.models import Principal
from resolvers.loaders import Loaders
from resolvers.services import Services
from resolvers.session_check import SessionCheck


@dataclass(slots=True)
class Context:
    """Per request: who is asking, the services, and fresh DataLoaders, so no request sees
    another's cached reads."""

    request_id: str
    services: Services
    principal: Principal | None = None
    # Why there is no principal although credentials were sent; raised on first data access.
    auth_error: DomainError | None = None
    # A WebSocket's connection_init payload (Strawberry sets it); None over HTTP.
    connection_params: dict[str, object] | None = None
    # Where clients reach this API (no trailing slash): links the API hands out start here.
    base_url: str = ""
    # A stored subscription run again for one event (AWS, api/realtime_aws): the checks made
    # when it began are not repeated; each event is still checked at delivery.
    resumed: bool = False
    # The principal's sign-out check, still to be made on the first store call (HTTP only:
    # resolvers/session_check.py); None once made up front, or without a principal.
    session_check: SessionCheck | None = None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        # Fresh loaders per request: a shared cache would serve one user's reads to another.
        self.loaders = Loaders(self.services)

    def renew_loaders(self) -> None:
        """A WebSocket's context lives as long as the connection: each event delivered on
        it reads through fresh loaders, so it shows the file as it is now."""
        self.loaders = Loaders(self.services)

    def refuse(self, error: DomainError) -> None:
        """The sign-out check refused the principal: from now on the request is theirs no more."""
        self.principal, self.auth_error = None, error

    def require_principal(self) -> Principal:
        if self.principal is None:
            raise self.auth_error or UnauthenticatedError()
        return self.principal
