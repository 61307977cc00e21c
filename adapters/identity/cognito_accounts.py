"""IdentityAccounts over Cognito's admin API: the app's role needs
cognito-idp:AdminUserGlobalSignOut and cognito-idp:AdminDeleteUser on the pool, and the
operator running a restore that maps owners by username cognito-idp:ListUsers."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from domain.errors import StoreUnavailableError
from domain.ports import IdentityUser

logger = logging.getLogger(__name__)

_GONE = "UserNotFoundException"
_THROTTLED = "TooManyRequestsException"
# A filter matches by equality; more than a handful of hits would be a broken pool.
_LIST_LIMIT = 10
# ListUsers has a low request quota and a restore looks every user up: a throttled lookup
# waits and tries again (botocore's own retries are off, api/aws_clients.py).
LOOKUP_ATTEMPTS = 5
LOOKUP_BACKOFF_SECONDS = 0.25


class CognitoAccounts:
    def __init__(
        self,
        client: Any,
        user_pool_id: str,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._pool = user_pool_id
        self._sleep = sleep

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
        response = await self._list_users(
            Filter=f'username = "{escaped}"', AttributesToGet=["sub"], Limit=_LIST_LIMIT
        )
        found = []
        for user in (response or {}).get("Users", []):
            sub = next((a["Value"] for a in user.get("Attributes", []) if a["Name"] == "sub"), None)
            if user.get("Username") == username and sub:
                found.append(IdentityUser(username=username, user_id=str(sub)))
        return found

    async def _list_users(self, **params: Any) -> Any:
        attempt = 1
        while True:
            try:
                last = attempt >= LOOKUP_ATTEMPTS
                return await self._call("list_users", retry_if_throttled=not last, **params)
            except _Throttled:
                await self._sleep(LOOKUP_BACKOFF_SECONDS * 2 ** (attempt - 1))
                attempt += 1

    async def _call(
        self, operation: str, *, retry_if_throttled: bool = False, **params: Any
    ) -> Any:
        call = getattr(self._client, operation)
        try:
            return await asyncio.to_thread(call, UserPoolId=self._pool, **params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == _GONE:
                return None  # already gone: sign-out and deletion are then done
            if code == _THROTTLED and retry_if_throttled:
                raise _Throttled from None
            logger.warning("Cognito %s failed: %s", operation, code)
            raise StoreUnavailableError("The identity provider is unavailable") from None
        except BotoCoreError as exc:
            logger.warning("Cognito %s failed: %s", operation, type(exc).__name__)
            raise StoreUnavailableError("The identity provider is unavailable") from None


class _Throttled(Exception):
    """Internal: a throttled call the caller will try again."""
