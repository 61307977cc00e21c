"""The access rules, in one place (DESIGN.md §5). Resolvers and REST call these; nothing
else decides who may see or change what."""

from domain.models import Principal, User


def may_see_private_profile(viewer: Principal, user: User) -> bool:
    """Email and groups are visible to the user themself and to admins only."""
    return viewer.is_admin or viewer.user_id == user.id


def may_update_profile(viewer: Principal, user: User) -> bool:
    return viewer.is_admin or viewer.user_id == user.id
