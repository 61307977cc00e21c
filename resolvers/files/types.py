"""The File type. A FileType is only ever built from a record the viewer may read (every
edge that yields one checks domain.access first); its fields then apply the finer rules:
``sharedWith`` per domain.access.visible_shares, ``downloadUrl`` through the FileService."""

from datetime import datetime
from typing import Any, Self

import strawberry
from graphql import GraphQLResolveInfo
from strawberry import Info
from strawberry.dataloader import DataLoader

from domain.access import visible_shares
from domain.ids import to_global_id
from domain.models import FileRecord, User
from resolvers.context import Context
from resolvers.files.enums import FileStatusEnum, VisibilityEnum
from resolvers.files.share_link_types import ShareLinkType
from resolvers.loaders import known_now
from resolvers.node import Node
from resolvers.scalars import Long
from resolvers.users.types import UserType

FILE_TYPE = "File"


def _owner(root: "FileType", info: Info[Context, Any]) -> UserType:
    # Declares the field; graphql-core calls owner_resolver (DIRECT_RESOLVERS below).
    return _owner_of(root, info.context)


def owner_resolver(root: "FileType", info: GraphQLResolveInfo[Context]) -> UserType:
    return _owner_of(root, info.context)


def _owner_of(root: "FileType", context: Context) -> UserType:
    # Any signed-in user may see any profile (private fields are filtered on UserType).
    # Not async: an owner this request already read (the viewer, primed at sign-in) is
    # answered at once; otherwise graphql-core awaits the coroutine returned instead.
    loader = context.loaders.user_by_id
    known = known_now(loader, root.record.owner_id)
    if known is not None:
        return _owner_type(root, known.result())
    return _load_owner(root, loader)  # type: ignore[return-value]


async def _load_owner(root: "FileType", loader: DataLoader[str, User | None]) -> UserType:
    return _owner_type(root, await loader.load(root.record.owner_id))


def _owner_type(root: "FileType", owner: User | None) -> UserType:
    if owner is None:  # profiles are never deleted; a file without one is corrupt data
        raise RuntimeError(f"owner profile missing for file {root.record.id}")
    return UserType.from_domain(owner)


async def _shared_with(root: "FileType", info: Info[Context, Any]) -> list[UserType]:
    user_ids = visible_shares(info.context.require_principal(), root.record)
    users = await info.context.loaders.user_by_id.load_many(user_ids)
    # A user who no longer exists is simply not listed.
    return [UserType.from_domain(user) for user in users if user is not None]


async def _download_url(
    root: "FileType", info: Info[Context, Any], expires_in: int | None = 300
) -> str | None:
    viewer = info.context.require_principal()
    return await info.context.services.files.download_url(viewer, root.record, expires_in)


async def _share_links(root: "FileType", info: Info[Context, Any]) -> list[ShareLinkType]:
    viewer = info.context.require_principal()
    links = await info.context.services.files.share_links(viewer, root.record)
    return [ShareLinkType.from_domain(link) for link in links]


async def _uploaded_parts(root: "FileType", info: Info[Context, Any]) -> list[int]:
    viewer = info.context.require_principal()
    return await info.context.services.files.uploaded_parts(viewer, root.record)


# Fields graphql-core resolves with a plain function instead of Strawberry's wrapper (an
# Info object, the arguments converted, the extension chain: ~6 µs a field, 20 owners a
# page). Only for fields with no arguments, permission classes or extensions: the function
# then does all the field does (resolvers/schema.py installs them).
DIRECT_RESOLVERS = {("File", "owner"): owner_resolver}


@strawberry.type(name="File")
class FileType(Node):
    """A file as the API shows it, to a viewer allowed to read it."""

    name: str
    content_type: str
    size: Long
    sha256: str | None = strawberry.field(
        description="Lowercase hex, when known: hashed from the stored bytes, or, for a "
        "multipart upload with partChecksums (every part checked against its SHA-256), "
        "as the uploader declared it."
    )
    status: FileStatusEnum
    visibility: VisibilityEnum
    description: str | None
    tags: list[str]
    owner: UserType = strawberry.field(resolver=_owner)
    shared_with: list[UserType] = strawberry.field(
        resolver=_shared_with,
        description="The owner and admins see whom the file is shared with; others see [].",
    )
    version: int = strawberry.field(
        description="+1 on every change; pass it back as expectedVersion to change safely."
    )
    created_at: datetime
    updated_at: datetime
    download_url: str | None = strawberry.field(
        resolver=_download_url,
        description="A short-lived URL for the bytes (expiresIn seconds); null while PENDING.",
    )
    share_links: list[ShareLinkType] = strawberry.field(
        resolver=_share_links, description="The owner's and admins' view; [] for others."
    )
    uploaded_parts: list[int] = strawberry.field(
        resolver=_uploaded_parts,
        description="Part numbers the store has received so far (PENDING multipart files; "
        "owner only).",
    )
    record: strawberry.Private[FileRecord]

    @classmethod
    def from_domain(cls, record: FileRecord) -> Self:
        return cls(
            id=strawberry.ID(to_global_id(FILE_TYPE, record.id)),
            name=record.name,
            content_type=record.content_type,
            size=Long(record.size),
            sha256=record.sha256,
            status=FileStatusEnum.from_domain(record.status),
            visibility=VisibilityEnum.from_domain(record.visibility),
            description=record.description,
            tags=list(record.tags),
            version=record.version,
            created_at=record.created_at,
            updated_at=record.updated_at,
            record=record,
        )
