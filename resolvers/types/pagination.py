"""Connection types (cursor pagination). How cursors are made is resolvers/paging.py's job."""

import strawberry

from resolvers.types.file import FileType


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(
        description="The last edge's cursor; pass it as `after` for the next page."
    )


@strawberry.type
class FileEdge:
    cursor: str
    node: FileType


@strawberry.type
class FileConnection:
    edges: list[FileEdge]
    page_info: PageInfo
