"""The User type. Private fields follow domain/access.py on every read, whichever edge
the user was reached through."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Self

import strawberry
from strawberry import Info

from domain.access import may_see_private_profile
from domain.ids import to_global_id
from domain.models import User
from resolvers.context import Context
from resolvers.node import Node
from resolvers.pagination import After, Before, First, Last

if TYPE_CHECKING:
    from resolvers.files.connection import FileConnection

USER_TYPE = "User"


@strawberry.type(name="User")
class UserType(Node):
    """A user as the API shows it; the private parts (email, groups) only to the user
    themself and admins."""

    username: str
    display_name: str | None
    created_at: datetime
    user: strawberry.Private[User]

    @classmethod
    def from_domain(cls, user: User) -> Self:
        return cls(
            id=strawberry.ID(to_global_id(USER_TYPE, user.id)),
            username=user.username,
            display_name=user.display_name,
            created_at=user.created_at,
            user=user,
        )

    @strawberry.field(description="Null unless the viewer is this user or an admin.")
    def email(self, info: Info[Context, Any]) -> str | None:
        viewer = info.context.require_principal()
        return self.user.email if may_see_private_profile(viewer, self.user) else None

    @strawberry.field(description="Empty unless the viewer is this user or an admin.")
    def groups(self, info: Info[Context, Any]) -> list[str]:
        viewer = info.context.require_principal()
        return list(self.user.groups) if may_see_private_profile(viewer, self.user) else []

    @strawberry.field(description="Newest first; only the files the viewer may read.")
    async def files(
        self,
        info: Info[Context, Any],
        first: First = strawberry.UNSET,
        after: After = strawberry.UNSET,
        last: Last = strawberry.UNSET,
        before: Before = strawberry.UNSET,
    ) -> Annotated["FileConnection", strawberry.lazy("resolvers.files.connection")]:
        # Imported here: files and pagination build on this module's UserType.
        from resolvers.files.connection import PageArgs
        from resolvers.files.queries import resolve_files_of

        return await resolve_files_of(info, self.user.id, PageArgs.of(first, after, last, before))
