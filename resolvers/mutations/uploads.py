"""createUpload and completeUpload: a PENDING file with an upload target, then READY once
the stored bytes match the declaration."""

from typing import Any

import strawberry
from strawberry import Info

from resolvers.context import Context
from resolvers.files import file_id_of
from resolvers.permissions import IsAuthenticated
from resolvers.types.file import FileType
from resolvers.types.file_inputs import CreateUploadInput
from resolvers.types.upload import CreateUploadPayload


@strawberry.type
class UploadMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Declare a file; send its bytes to the returned target, then complete it.",
    )
    async def create_upload(
        self, info: Info[Context, Any], input: CreateUploadInput
    ) -> CreateUploadPayload:
        viewer = info.context.require_principal()
        record, target = await info.context.services.files.create_upload(viewer, input.to_domain())
        info.context.loaders.remember_files([record])
        return CreateUploadPayload.from_domain(record, target)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Verify the stored bytes against the declaration; idempotent.",
    )
    async def complete_upload(self, info: Info[Context, Any], id: strawberry.ID) -> FileType:
        viewer = info.context.require_principal()
        record = await info.context.services.files.complete_upload(viewer, file_id_of(id))
        info.context.loaders.remember_files([record])
        return FileType.from_domain(record)
