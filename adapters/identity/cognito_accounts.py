"""IdentityAccounts over Cognito's admin API: the app's role needs
cognito-idp:AdminUserGlobalSignOut and cognito-idp:AdminDeleteUser on the pool, and the
operator running a restore that maps owners by username cognito-idp:ListUsers."""

import asyncio
import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from domain.errors import StoreUnavailableError
from domain.ports import IdentityUser

logger = logging.getLogger(__name__)

_GONE = "UserNotFoundException"
# A filter matches by equality; more than a handful of hits would be a broken pool.
_LIST_LIMIT = 10


class CognitoAccounts:
    def __init__(self, client: Any, user_pool_id: str) -> None:
        self._client = client
        self._pool = user_pool_id

    async def sign_out_everywhere(self, username: str) -> None:
        await self._call("admin_user_global_sign_out", Username=username)

    async def delete_identity(self, username: str) -> None:
        await self._call("admin_delete_user", Username=username)

    async def find_users_by_username(self, username: str) -> list[IdentityUser]:
        # ListUsers matches the username attribute only (AdminGetUser would also accept an
        # alias: a preferred_username "bob" could name someone else's account). Hits are
        # checked again for the exact name, so an escaping quirk finds no one, never a
        # wrong one.
        escaped = username.replace("\\", "\\\\").replace('"', '\\"')
        response = await self._call(
            "list_users",
            Filter=f'username = "{escaped}"',
            AttributesToGet=["sub"],
            Limit=_LIST_LIMIT,
        )
        found = []
        for user in (response or {}).get("Users", []):
            sub = next((a["Value"] for a in user.get("Attributes", []) if a["Name"] == "sub"), None)
            if user.get("Username") == username and sub:
                found.append(IdentityUser(username=username, user_id=str(sub)))
        return found

    async def _call(self, operation: str, **params: Any) -> Any:
        call = getattr(self._client, operation)
        try:
            return await asyncio.to_thread(call, UserPoolId=self._pool, **params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == _GONE:
                return None  # already gone: sign-out and deletion are then done
            logger.warning("Cognito %s failed: %s", operation, code)
            raise StoreUnavailableError("The identity provider is unavailable") from None
        except BotoCoreError as exc:
            logger.warning("Cognito %s failed: %s", operation, type(exc).__name__)
            raise StoreUnavailableError("The identity provider is unavailable") from None
