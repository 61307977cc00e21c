"""The ``search`` root field: check, call the SearchService, return the connection."""

from typing import Any

from strawberry import Info

from domain.models import FileRecord, User
from domain.search.models import SearchFilter, SearchHit
from resolvers.context import Context
from resolvers.files.types import FileType
from resolvers.pagination import PageInfo, no_cursor
from resolvers.search.types import SearchConnection, SearchEdge, SearchTypeEnum
from resolvers.users.types import UserType


async def resolve_search(
    info: Info[Context, Any],
    query: str,
    types: list[SearchTypeEnum] | None,
    search_filter: SearchFilter | None,
    first: int | None,
    after: str | None,
) -> SearchConnection:
    viewer = info.context.require_principal()
    service = info.context.services.search
    if service is None:
        raise RuntimeError("search is not configured in Services")
    page = await service.search(
        viewer,
        query,
        types=None if types is None else [t.to_domain() for t in types],
        search_filter=search_filter,
        first=first,
        after=after,
    )
    edges = [SearchEdge(score=hit.score, node=_node(info, hit), hit=hit) for hit in page.hits]
    return SearchConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            end=page.hits[-1].sign if page.hits else no_cursor,
            start=page.hits[0].sign if page.hits else no_cursor,
        ),
    )


def _node(info: Info[Context, Any], hit: SearchHit) -> FileType | UserType:
    # The hit's record was read and permission-checked by the search: later edges of this
    # request (File.owner, node(id:)) reuse it rather than read it again.
    if isinstance(hit.record, FileRecord):
        info.context.loaders.remember_files([hit.record])
        return FileType.from_domain(hit.record)
    assert isinstance(hit.record, User)
    info.context.loaders.user_by_id.prime(hit.record.id, hit.record)
    return UserType.from_domain(hit.record)
