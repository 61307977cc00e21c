"""Account mutations: sign out everywhere, delete an account, export my data."""

from typing import Any

import strawberry
from strawberry import Info

from domain.accounts import AccountService
from domain.errors import DomainError, NotFoundError
from domain.ids import from_global_id, to_global_id
from resolvers.accounts.types import DataExportType
from resolvers.context import Context
from resolvers.permissions import IsAuthenticated


class AccountsUnavailableError(DomainError):
    """The deployment was built without an identity provider to act on."""


def user_id_from_global(global_id: str) -> str:
    type_name, local_id = from_global_id(global_id)
    if type_name != "User":
        raise NotFoundError("User not found")
    return local_id


def accounts_of(info: Info[Context, Any]) -> AccountService:
    accounts = info.context.services.accounts
    if accounts is None:
        raise AccountsUnavailableError("Account changes are not available on this deployment")
    return accounts


@strawberry.type
class AccountMutations:
    """The viewer's account operations (sign-out everywhere, export, deletion), merged into
    the schema's Mutation type."""

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Voids every token issued to the viewer until now (and, in Cognito mode, signs "
            "out globally)."
        ),
    )
    async def sign_out_everywhere(self, info: Info[Context, Any]) -> bool:
        viewer = info.context.require_principal()
        await accounts_of(info).sign_out_everywhere(viewer)
        return True

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "confirm must equal the viewer's username (admins: the target's, with userId)."
        ),
    )
    async def delete_account(
        self,
        info: Info[Context, Any],
        confirm: str,
        user_id: strawberry.ID | None = strawberry.UNSET,
    ) -> strawberry.ID:
        viewer = info.context.require_principal()
        given = user_id not in (None, strawberry.UNSET)
        local_id = user_id_from_global(str(user_id)) if given else None
        deleted = await accounts_of(info).delete_account(viewer, confirm, local_id)
        info.context.loaders.user_by_id.prime(deleted, None, force=True)
        return strawberry.ID(to_global_id("User", deleted))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Starts an export of the viewer's data, or returns the one in progress.",
    )
    async def export_my_data(self, info: Info[Context, Any]) -> DataExportType:
        viewer = info.context.require_principal()
        return DataExportType.from_domain(await accounts_of(info).export_my_data(viewer))
