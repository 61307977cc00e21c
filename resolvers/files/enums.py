"""FileStatus and Visibility as GraphQL enums, mapped to and from the domain's own enums
(the domain never imports Strawberry, so its enums are not decorated in place)."""

import enum

import strawberry

from domain.models import FileStatus, Visibility


@strawberry.enum(name="FileStatus")
class FileStatusEnum(enum.Enum):
    PENDING = "PENDING"
    READY = "READY"

    @classmethod
    def from_domain(cls, status: FileStatus) -> "FileStatusEnum":
        return cls(status.value)

    def to_domain(self) -> FileStatus:
        return FileStatus(self.value)


@strawberry.enum(name="Visibility")
class VisibilityEnum(enum.Enum):
    PRIVATE = "PRIVATE"
    PUBLIC = "PUBLIC"

    @classmethod
    def from_domain(cls, visibility: Visibility) -> "VisibilityEnum":
        return cls(visibility.value)

    def to_domain(self) -> Visibility:
        return Visibility(self.value)
