"""Input types for files, and their translation into the domain's inputs: Strawberry's
UNSET (argument omitted) becomes the domain's own UNSET, enums become domain enums."""

from typing import Any

import strawberry

from domain.errors import InvalidInputError
from domain.files import UNSET, CompletedPart, FileFilter, NewFile, Unset
from domain.models import Visibility
from resolvers.files.enums import FileStatusEnum, VisibilityEnum
from resolvers.scalars import Long


@strawberry.input(name="FileFilter", description="Every criterion given must hold.")
class FileFilterInput:
    """The listing filters as the API takes them (the domain's FileFilter)."""

    status: FileStatusEnum | None = strawberry.UNSET
    content_type_prefix: str | None = strawberry.UNSET
    tag: str | None = strawberry.UNSET

    def to_domain(self) -> FileFilter:
        status = or_none(self.status)
        return FileFilter(
            status=None if status is None else status.to_domain(),
            content_type_prefix=or_none(self.content_type_prefix),
            tag=or_none(self.tag),
        )


@strawberry.input
class CreateUploadInput:
    """A file declared before its bytes are sent: checked against the limits and quota
    before any upload target is signed."""

    name: str
    content_type: str
    size: Long
    sha256: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    visibility: VisibilityEnum | None = VisibilityEnum.PRIVATE
    multipart: bool | None = False
    part_checksums: bool | None = strawberry.field(
        default=False,
        description="For a multipart upload: every part is sent with its SHA-256, given to "
        "uploadParts (sha256, then required) and checked by the store, which refuses bytes "
        "that differ. Decided here because S3 fixes it when the upload opens: every part "
        "carries a checksum or none does. A single upload's SHA-256 is checked whole anyway. "
        "Required for multipart files over MULTIPART_INLINE_VERIFY_MAX_BYTES (256 MiB by "
        "default), which the server could not hash back within a request; the file's "
        "sha256 is then the one declared here.",
    )

    def to_domain(self) -> NewFile:
        if self.visibility is None:
            raise InvalidInputError("visibility must be PRIVATE or PUBLIC (omit it for PRIVATE)")
        return NewFile(
            name=self.name,
            content_type=self.content_type,
            size=self.size,
            sha256=or_none(self.sha256),
            description=or_none(self.description),
            tags=or_none(self.tags),
            visibility=self.visibility.to_domain(),
            multipart=bool(self.multipart),
            part_checksums=bool(self.part_checksums),
        )


@strawberry.input(name="CompletedPart")
class CompletedPartInput:
    """One uploaded part as the client reports it on completion (the domain's
    CompletedPart)."""

    part_number: int
    etag: str
    sha256: str | None = strawberry.UNSET

    def to_domain(self) -> CompletedPart:
        return CompletedPart(self.part_number, self.etag, or_none(self.sha256))


@strawberry.input(description="Omitted fields stay as they are; null clears description/tags.")
class UpdateFileInput:
    """A metadata change to one file; ``expected_version`` makes it conditional."""

    id: strawberry.ID
    expected_version: int | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    visibility: VisibilityEnum | None = strawberry.UNSET

    def visibility_change(self) -> Visibility | Unset | None:
        if self.visibility is strawberry.UNSET:
            return UNSET
        return None if self.visibility is None else self.visibility.to_domain()


def or_none(value: Any) -> Any:
    """Omitted and null mean the same here: nothing declared."""
    return None if value is strawberry.UNSET else value


def domain_unset(value: Any) -> Any:
    """Omitted (leave as it is) stays distinct from null (clear) in an update."""
    return UNSET if value is strawberry.UNSET else value
