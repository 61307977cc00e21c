"""The files feature's mutations: uploads (createUpload, completeUpload), changes
(updateFile, deleteFile), sharing (shareFile, unshareFile, by username; idempotent) and
share links (createShareLink, revokeShareLink; the rules: domain/files/links.py)."""

from typing import Any

import strawberry
from strawberry import Info

from domain.errors import NotFoundError
from domain.files import LINK_EXPIRY_DEFAULT_SECONDS, LINK_NOT_FOUND_MESSAGE
from domain.ids import from_global_id
from resolvers.context import Context
from resolvers.files.inputs import (
    CompletedPartInput,
    CreateUploadInput,
    UpdateFileInput,
    domain_unset,
    or_none,
)
from resolvers.files.queries import file_id_of
from resolvers.files.share_link_types import SEPARATOR, SHARE_LINK_TYPE, ShareLinkType
from resolvers.files.types import FileType
from resolvers.files.upload_types import CreateUploadPayload, UploadPart
from resolvers.permissions import IsAuthenticated

# Where a token is followed (api/share_routes.py serves it).
SHARE_PATH = "/s/"


def share_link_ids(global_id: str) -> tuple[str, str]:
    """(file id, link id); an id of another type or shape names no link: NOT_FOUND."""
    type_name, local_id = from_global_id(global_id)
    file_id, sep, link_id = local_id.partition(SEPARATOR)
    if type_name != SHARE_LINK_TYPE or not sep or not file_id or not link_id:
        raise NotFoundError(LINK_NOT_FOUND_MESSAGE)
    return file_id, link_id


@strawberry.type
class ShareLinkMutations:
    """Links anyone may download a file with, made and revoked by its owner, merged into
    the schema's Mutation type."""

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="A link anyone may follow, without signing in, to download a READY file "
        "(owner or admin only); expiresIn: 60 s to 30 days.",
    )
    async def create_share_link(
        self,
        info: Info[Context, Any],
        file_id: strawberry.ID,
        expires_in: int | None = LINK_EXPIRY_DEFAULT_SECONDS,
        max_downloads: int | None = strawberry.UNSET,
    ) -> ShareLinkType:
        viewer = info.context.require_principal()
        link, token = await info.context.services.files.create_share_link(
            viewer,
            file_id_of(file_id),
            expires_in=expires_in,
            max_downloads=or_none(max_downloads),
        )
        info.context.loaders.forget_file(link.file_id)  # its version moved on
        return ShareLinkType.from_domain(link, f"{info.context.base_url}{SHARE_PATH}{token}")

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="The link stops working at once; answers its id.",
    )
    async def revoke_share_link(self, info: Info[Context, Any], id: strawberry.ID) -> strawberry.ID:
        viewer = info.context.require_principal()
        file_id, link_id = share_link_ids(id)
        await info.context.services.files.revoke_share_link(viewer, file_id, link_id)
        info.context.loaders.forget_file(file_id)
        return id


@strawberry.type
class UploadMutations:
    """Declaring, planning and completing an upload, merged into the schema's Mutation
    type."""

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
        description="Verify the stored bytes against the declaration; idempotent. parts is "
        "required for a multipart upload and refused for a single one.",
    )
    async def complete_upload(
        self,
        info: Info[Context, Any],
        id: strawberry.ID,
        parts: list[CompletedPartInput] | None = strawberry.UNSET,
    ) -> FileType:
        viewer = info.context.require_principal()
        given = or_none(parts)
        record = await info.context.services.files.complete_upload(
            viewer,
            file_id_of(id),
            None if given is None else [part.to_domain() for part in given],
        )
        info.context.loaders.remember_files([record])
        return FileType.from_domain(record)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Presigned targets for these parts (at most 100 per call); callable again "
        "to resume or refresh. sha256: each part's SHA-256 (64 hex characters, like "
        "createUpload's), in the order of partNumbers; required for an upload created with "
        "partChecksums and refused otherwise.",
    )
    async def upload_parts(
        self,
        info: Info[Context, Any],
        id: strawberry.ID,
        part_numbers: list[int],
        sha256: list[str] | None = strawberry.UNSET,
    ) -> list[UploadPart]:
        viewer = info.context.require_principal()
        targets = await info.context.services.files.upload_parts(
            viewer, file_id_of(id), part_numbers, or_none(sha256)
        )
        return [UploadPart.from_domain(target) for target in targets]

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Cancels a pending upload and frees its quota and stored parts.",
    )
    async def abort_upload(self, info: Info[Context, Any], id: strawberry.ID) -> strawberry.ID:
        viewer = info.context.require_principal()
        file_id = file_id_of(id)
        await info.context.services.files.abort_upload(viewer, file_id)
        info.context.loaders.forget_file(file_id)
        return id


@strawberry.type
class FileChangeMutations:
    """Changes to a file's metadata and its deletion, merged into the schema's Mutation
    type."""

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


@strawberry.type
class SharingMutations:
    """Sharing a file with another user and taking it back, merged into the schema's
    Mutation type."""

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
