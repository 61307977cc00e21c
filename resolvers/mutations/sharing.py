"""shareFile and unshareFile, by username; both idempotent."""

from typing import Any

import strawberry
from strawberry import Info

from resolvers.context import Context
from resolvers.files import file_id_of
from resolvers.permissions import IsAuthenticated
from resolvers.types.file import FileType


@strawberry.type
class SharingMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Let another user read the file (owner or admin only).",
    )
    async def share_file(
        self, info: Info[Context, Any], id: strawberry.ID, username: str
    ) -> FileType:
        viewer = info.context.require_principal()
        record = await info.context.services.files.share_file(viewer, file_id_of(id), username)
        info.context.loaders.remember_files([record])
        return FileType.from_domain(record)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Stop sharing the file with a user (owner or admin only).",
    )
    async def unshare_file(
        self, info: Info[Context, Any], id: strawberry.ID, username: str
    ) -> FileType:
        viewer = info.context.require_principal()
        record = await info.context.services.files.unshare_file(viewer, file_id_of(id), username)
        info.context.loaders.remember_files([record])
        return FileType.from_domain(record)
