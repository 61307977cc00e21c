"""The process-wide domain services every request shares, built once by the composition
root (api/bootstrap.py) and handed to each request's Context."""

from dataclasses import dataclass

from domain.accounts import AccountService
from domain.cursor_signer import CursorSigner
from domain.events import FileEventSource
from domain.files import FileService
from domain.search.service import SearchService
from domain.users import UserProfiles, UserRepository
from resolvers.session_check import SessionChecks


@dataclass(frozen=True, slots=True)
class Services:
    """Process-wide domain services, built once by the composition root."""

    users: UserRepository
    profiles: UserProfiles
    files: FileService
    cursors: CursorSigner
    # Optional so that tools building Services for file work alone need not wire it.
    search: SearchService | None = None
    # Where subscriptions read file events; None: the schema's subscriptions have no feed.
    file_events: FileEventSource | None = None
    # PUBLIC_URL when configured; otherwise each request's own base URL is used.
    public_url: str | None = None
    # Optional, like search; the account mutations need it.
    accounts: AccountService | None = None
    # Set by the composition root with the store decorator that applies them: HTTP
    # requests then check sign-out on their first store call. None: checked up front.
    session_checks: SessionChecks | None = None
