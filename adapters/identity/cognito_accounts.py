"""IdentityAccounts over Cognito's admin API: the app's role needs
cognito-idp:AdminUserGlobalSignOut and cognito-idp:AdminDeleteUser on the pool."""

import asyncio
import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from domain.errors import StoreUnavailableError

logger = logging.getLogger(__name__)

_GONE = "UserNotFoundException"


class CognitoAccounts:
    def __init__(self, client: Any, user_pool_id: str) -> None:
        self._client = client
        self._pool = user_pool_id

    async def sign_out_everywhere(self, username: str) -> None:
        await self._call("admin_user_global_sign_out", username)

    async def delete_identity(self, username: str) -> None:
        await self._call("admin_delete_user", username)

    async def _call(self, operation: str, username: str) -> None:
        call = getattr(self._client, operation)
        try:
            await asyncio.to_thread(call, UserPoolId=self._pool, Username=username)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == _GONE:
                return  # already gone: both operations are then done
            logger.warning("Cognito %s failed: %s", operation, code)
            raise StoreUnavailableError("The identity provider is unavailable") from None
        except BotoCoreError as exc:
            logger.warning("Cognito %s failed: %s", operation, type(exc).__name__)
            raise StoreUnavailableError("The identity provider is unavailable") from None
