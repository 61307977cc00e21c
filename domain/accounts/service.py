"""AccountService: what a user (or an admin) does to a whole account."""

from domain.accounts.deletion import AccountDeletion
from domain.accounts.export import DataExport, DataExports
from domain.models import Principal
from domain.ports import IdentityAccounts
from domain.users import UserProfiles


class AccountService:
    def __init__(
        self,
        profiles: UserProfiles,
        identity: IdentityAccounts,
        deletion: AccountDeletion,
        exports: DataExports,
    ) -> None:
        self._profiles = profiles
        self._identity = identity
        self.deletion = deletion
        self._exports = exports

    async def export_my_data(self, viewer: Principal) -> DataExport:
        return await self._exports.export_my_data(viewer.user_id)

    async def data_export(self, viewer: Principal, export_id: str) -> DataExport:
        """The viewer's own export only: any other id is NOT_FOUND."""
        return await self._exports.status(viewer.user_id, export_id)

    @property
    def exports(self) -> DataExports:
        """For the background side (scheduled builds, resuming after a restart)."""
        return self._exports

    async def sign_out_everywhere(self, viewer: Principal) -> None:
        """Our mark first: it refuses the viewer's tokens on the next request in every
        process, whatever happens at the identity provider afterwards (a retry repeats
        both steps harmlessly)."""
        await self._profiles.sign_out_everywhere(viewer)
        await self._identity.sign_out_everywhere(viewer.username)

    async def delete_account(self, viewer: Principal, confirm: str, user_id: str | None) -> str:
        """The viewer's own account, or (admins) ``user_id``'s; the deleted user's id."""
        return await self.deletion.delete_account(viewer, confirm, user_id or viewer.user_id)

    async def finish_deletions(self) -> int:
        """Finish every deletion a crash interrupted; how many there were."""
        pending = await self.deletion.pending()
        for tombstone in pending:
            await self.deletion.purge(tombstone)
        return len(pending)
