"""updateProfile: the signed-in user changes their own display name."""

from typing import Any

import strawberry
from strawberry import Info

from resolvers.context import Context
from resolvers.permissions import IsAuthenticated
from resolvers.users.types import UserType


@strawberry.type
class ProfileMutations:
    """Changes to the viewer's profile, merged into the schema's Mutation type."""

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Set (or, with null, clear) the display name; omitted means unchanged.",
    )
    async def update_profile(
        self, info: Info[Context, Any], display_name: str | None = strawberry.UNSET
    ) -> UserType:
        viewer = info.context.require_principal()
        profiles = info.context.services.profiles
        if display_name is strawberry.UNSET:
            user = await info.context.loaders.user_by_id.load(viewer.user_id)
            if user is None:
                raise RuntimeError("profile missing for an authenticated principal")
            return UserType.from_domain(user)
        updated = await profiles.update_profile(viewer, viewer.user_id, display_name)
        info.context.loaders.user_by_id.prime(updated.id, updated, force=True)
        return UserType.from_domain(updated)
