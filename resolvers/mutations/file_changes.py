"""updateFile and deleteFile: optimistic changes guarded by the file's version."""

from typing import Any

import strawberry
from strawberry import Info

from resolvers.context import Context
from resolvers.files import file_id_of
from resolvers.permissions import IsAuthenticated
from resolvers.types.file import FileType
from resolvers.types.file_inputs import UpdateFileInput, domain_unset, or_none


@strawberry.type
class FileChangeMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="CONFLICT when expectedVersion is given and the file moved past it.",
    )
    async def update_file(self, info: Info[Context, Any], input: UpdateFileInput) -> FileType:
        viewer = info.context.require_principal()
        record = await info.context.services.files.update_file(
            viewer,
            file_id_of(input.id),
            expected_version=or_none(input.expected_version),
            name=domain_unset(input.name),
            description=domain_unset(input.description),
            tags=domain_unset(input.tags),
            visibility=input.visibility_change(),
        )
        info.context.loaders.remember_files([record])
        return FileType.from_domain(record)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Remove the file and its bytes; answers the deleted file's id.",
    )
    async def delete_file(
        self,
        info: Info[Context, Any],
        id: strawberry.ID,
        expected_version: int | None = strawberry.UNSET,
    ) -> strawberry.ID:
        viewer = info.context.require_principal()
        file_id = file_id_of(id)
        await info.context.services.files.delete_file(viewer, file_id, or_none(expected_version))
        info.context.loaders.forget_file(file_id)
        return id
