"""Plain resolver functions for users, shared by query fields and nested edges."""

from typing import Any

from strawberry import Info

from resolvers.context import Context
from resolvers.users.types import UserType

_USERNAME_MAX_CHARS = 128


async def resolve_user(info: Info[Context, Any], user_id: str) -> UserType | None:
    # Every user profile is readable by any signed-in user; private fields are
    # filtered on the type itself, so this edge needs no further rule.
    user = await info.context.loaders.user_by_id.load(user_id)
    return UserType.from_domain(user) if user is not None else None


async def resolve_user_by_username(info: Info[Context, Any], username: str) -> UserType | None:
    if not username or len(username) > _USERNAME_MAX_CHARS:
        return None
    user_id = await info.context.services.users.id_for_username(username)
    return await resolve_user(info, user_id) if user_id is not None else None
