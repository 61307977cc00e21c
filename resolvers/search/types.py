"""Search types of the contract (schema.graphql): SearchType, SearchHit, SearchEdge,
SearchConnection and the SearchFilter input."""

import enum
from datetime import UTC, datetime
from typing import Annotated

import strawberry

from domain.errors import InvalidInputError
from domain.files import clean_tag
from domain.ids import from_global_id
from domain.search.documents import FILE, USER
from domain.search.models import SearchFilter
from domain.search.models import SearchHit as DomainHit
from resolvers.files.inputs import or_none
from resolvers.files.types import FileType
from resolvers.pagination import PageInfo
from resolvers.users.types import USER_TYPE, UserType


@strawberry.enum(name="SearchType")
class SearchTypeEnum(enum.Enum):
    FILE = "FILE"
    USER = "USER"

    def to_domain(self) -> str:
        return FILE if self is SearchTypeEnum.FILE else USER


SearchHit = Annotated[FileType | UserType, strawberry.union("SearchHit")]


def _cursor(root: "SearchEdge") -> str:
    return root.hit.cursor


def _highlights(root: "SearchEdge") -> list[str]:
    return list(root.hit.highlights)


@strawberry.type
class SearchEdge:
    """One hit of a search page, as GraphQL answers it."""

    # Resolved only when selected: each costs a signature or a pass over the texts per hit.
    cursor: str = strawberry.field(resolver=_cursor)
    score: float
    highlights: list[str] = strawberry.field(resolver=_highlights)
    node: SearchHit
    hit: strawberry.Private[DomainHit]


@strawberry.type
class SearchConnection:
    """A search page, as GraphQL answers it."""

    edges: list[SearchEdge]
    page_info: PageInfo


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@strawberry.input(name="SearchFilter")
class SearchFilterInput:
    """Narrows a search by content type, tags, owner and creation time."""

    content_type_prefix: str | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    owner_id: strawberry.ID | None = strawberry.UNSET
    created_after: datetime | None = strawberry.UNSET
    created_before: datetime | None = strawberry.UNSET

    def to_domain(self) -> SearchFilter:
        owner = or_none(self.owner_id)
        owner_id = None
        if owner is not None:
            type_name, owner_id = from_global_id(owner)
            if type_name != USER_TYPE:
                raise InvalidInputError("ownerId must be the id of a User")
        prefix = or_none(self.content_type_prefix)
        tags = or_none(self.tags) or []
        return SearchFilter(
            # Content types are stored lowercased (domain/files/rules.py), so the prefix is too.
            content_type_prefix=prefix.strip().lower() or None if prefix is not None else None,
            tags=tuple(dict.fromkeys(clean_tag(tag) for tag in tags)),
            owner_id=owner_id,
            created_after=_utc(or_none(self.created_after)),
            created_before=_utc(or_none(self.created_before)),
        )
