"""AccountService: what a user (or an admin) does to a whole account."""

from domain.models import Principal
from domain.ports import IdentityAccounts
from domain.users import UserProfiles


class AccountService:
    def __init__(self, profiles: UserProfiles, identity: IdentityAccounts) -> None:
        self._profiles = profiles
        self._identity = identity

    async def sign_out_everywhere(self, viewer: Principal) -> None:
        """Our mark first: it refuses the viewer's tokens on the next request in every
        process, whatever happens at the identity provider afterwards (a retry repeats
        both steps harmlessly)."""
        await self._profiles.sign_out_everywhere(viewer)
        await self._identity.sign_out_everywhere(viewer.username)
