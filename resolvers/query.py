"""Root query fields: check, call the domain, return the type."""

from typing import Any

import strawberry
from strawberry import Info

from domain.ids import from_global_id
from resolvers.context import Context
from resolvers.files.connection import FileConnection, PageArgs
from resolvers.files.inputs import FileFilterInput, or_none
from resolvers.files.queries import (
    resolve_file,
    resolve_my_files,
    resolve_shared_with_me,
)
from resolvers.files.types import FILE_TYPE, FileType
from resolvers.node import Node
from resolvers.pagination import After, Before, First, Last
from resolvers.permissions import IsAuthenticated
from resolvers.search.queries import resolve_search
from resolvers.search.types import SearchConnection, SearchFilterInput, SearchTypeEnum
from resolvers.users.queries import resolve_user, resolve_user_by_username
from resolvers.users.types import USER_TYPE, UserType


@strawberry.type
class Query:
    """The root queries (the viewer, users, files, search), merged with the account
    queries into the schema's Query type."""

    @strawberry.field(permission_classes=[IsAuthenticated], description="The signed-in user.")
    async def me(self, info: Info[Context, Any]) -> UserType:
        viewer = info.context.require_principal()
        user = await resolve_user(info, viewer.user_id)
        if user is None:  # the profile is created before any resolver runs
            raise RuntimeError("profile missing for an authenticated principal")
        return user

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def node(self, info: Info[Context, Any], id: strawberry.ID) -> Node | None:
        type_name, local_id = from_global_id(id)
        if type_name == USER_TYPE:
            return await resolve_user(info, local_id)
        if type_name == FILE_TYPE:
            return await resolve_file(info, local_id)
        return None

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def user(self, info: Info[Context, Any], id: strawberry.ID) -> UserType | None:
        type_name, local_id = from_global_id(id)
        return await resolve_user(info, local_id) if type_name == USER_TYPE else None

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def user_by_username(self, info: Info[Context, Any], username: str) -> UserType | None:
        return await resolve_user_by_username(info, username)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Null when the file is missing or not readable (indistinguishable).",
    )
    async def file(self, info: Info[Context, Any], id: strawberry.ID) -> FileType | None:
        type_name, local_id = from_global_id(id)
        return await resolve_file(info, local_id) if type_name == FILE_TYPE else None

    @strawberry.field(permission_classes=[IsAuthenticated], description="Newest first.")
    async def my_files(
        self,
        info: Info[Context, Any],
        first: First = strawberry.UNSET,
        after: After = strawberry.UNSET,
        filter: FileFilterInput | None = strawberry.UNSET,
        last: Last = strawberry.UNSET,
        before: Before = strawberry.UNSET,
    ) -> FileConnection:
        wanted = or_none(filter)
        return await resolve_my_files(
            info,
            PageArgs.of(first, after, last, before),
            None if wanted is None else wanted.to_domain(),
        )

    @strawberry.field(
        permission_classes=[IsAuthenticated], description="Most recently shared first."
    )
    async def shared_with_me(
        self,
        info: Info[Context, Any],
        first: First = strawberry.UNSET,
        after: After = strawberry.UNSET,
        last: Last = strawberry.UNSET,
        before: Before = strawberry.UNSET,
    ) -> FileConnection:
        return await resolve_shared_with_me(info, PageArgs.of(first, after, last, before))

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Ranked full-text search over files and users the viewer may read.",
    )
    async def search(
        self,
        info: Info[Context, Any],
        query: str,
        types: list[SearchTypeEnum] | None = strawberry.UNSET,
        filter: SearchFilterInput | None = strawberry.UNSET,
        first: int | None = 20,
        after: str | None = strawberry.UNSET,
    ) -> SearchConnection:
        wanted = or_none(filter)
        return await resolve_search(
            info,
            query,
            or_none(types),
            None if wanted is None else wanted.to_domain(),
            first,
            or_none(after),
        )
