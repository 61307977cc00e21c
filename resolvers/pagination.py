"""PageInfo, shared by every connection (files and search), with the four fields of the
Relay Cursor Connections spec (Relay's compiler and other clients select all four)."""

import strawberry


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(
        description="The last edge's cursor; pass it as `after` for the next page."
    )
    start_cursor: str | None = strawberry.field(
        default=None, description="The first edge's cursor; null when the page is empty."
    )
    has_previous_page: bool = strawberry.field(
        default=False,
        description=(
            "False: connections page forward (`first`/`after`), and the Relay spec lets a "
            "server that cannot tell cheaply answer false there."
        ),
    )
