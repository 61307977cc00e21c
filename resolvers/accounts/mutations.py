"""Account mutations: sign out everywhere, delete an account."""

from typing import Any

import strawberry
from strawberry import Info

from domain.accounts import AccountService
from domain.errors import DomainError
from resolvers.context import Context
from resolvers.permissions import IsAuthenticated


class AccountsUnavailableError(DomainError):
    """The deployment was built without an identity provider to act on."""


def _accounts(info: Info[Context, Any]) -> AccountService:
    accounts = info.context.services.accounts
    if accounts is None:
        raise AccountsUnavailableError("Account changes are not available on this deployment")
    return accounts


@strawberry.type
class AccountMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Voids every token issued to the viewer until now (and, in Cognito mode, signs "
            "out globally)."
        ),
    )
    async def sign_out_everywhere(self, info: Info[Context, Any]) -> bool:
        viewer = info.context.require_principal()
        await _accounts(info).sign_out_everywhere(viewer)
        return True
