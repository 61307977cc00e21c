"""The per-request Context every resolver receives through ``strawberry.Info[Context]``."""

from dataclasses import dataclass, field

from domain.cursor_signer import CursorSigner
from domain.errors import DomainError, UnauthenticatedError
from domain.file_service import FileService
from domain.models import Principal
from domain.search.service import SearchService
from domain.users import UserProfiles, UserRepository
from resolvers.loaders import Loaders


@dataclass(frozen=True, slots=True)
class Services:
    """Process-wide domain services, built once by the composition root."""

    users: UserRepository
    profiles: UserProfiles
    files: FileService
    cursors: CursorSigner
    # Optional so that tools building Services for file work alone need not wire it.
    search: SearchService | None = None


@dataclass(slots=True)
class Context:
    request_id: str
    services: Services
    principal: Principal | None = None
    # Why there is no principal although credentials were sent; raised on first data access.
    auth_error: DomainError | None = None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        # Fresh loaders per request: a shared cache would serve one user's reads to another.
        self.loaders = Loaders(self.services)

    def require_principal(self) -> Principal:
        if self.principal is None:
            raise self.auth_error or UnauthenticatedError()
        return self.principal
