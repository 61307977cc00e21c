"""PageInfo, shared by every connection (files and search), with the four fields of the
Relay Cursor Connections spec (Relay's compiler and other clients select all four), and the
spec's paging arguments as file connections take them."""

from collections.abc import Callable
from typing import Annotated

import strawberry

First = Annotated[
    int | None,
    strawberry.argument(
        description="Page forward: at most this many edges (1-100; 20 when neither first "
        "nor last is given). Not with last or before."
    ),
]
After = Annotated[
    str | None, strawberry.argument(description="Page forward: the edges after this cursor.")
]
Last = Annotated[
    int | None,
    strawberry.argument(
        description="Page backward: at most this many edges, the last ones before `before` "
        "(1-100). Not with first or after."
    ),
]
Before = Annotated[
    str | None,
    strawberry.argument(description="Page backward: the edges before this cursor."),
]


def _end_cursor(root: "PageInfo") -> str | None:
    return root.end()


def _start_cursor(root: "PageInfo") -> str | None:
    return root.start()


def no_cursor() -> None:
    return None


@strawberry.type
class PageInfo:
    """Relay's page info: whether a listing goes on, and the cursors at the page's ends."""

    has_next_page: bool = strawberry.field(
        description=(
            "Paging forward: whether more edges follow. Paging backward (`last`/`before`): "
            "false, as the Relay spec allows a server that cannot tell cheaply."
        )
    )
    # Signed only when selected (an HMAC each; most queries select the edges alone).
    end_cursor: str | None = strawberry.field(
        resolver=_end_cursor,
        description="The last edge's cursor; pass it as `after` for the next page.",
    )
    start_cursor: str | None = strawberry.field(
        resolver=_start_cursor,
        description="The first edge's cursor; pass it as `before` for the previous page.",
    )
    has_previous_page: bool = strawberry.field(
        default=False,
        description=(
            "Paging backward (`last`/`before`): whether more edges come before. Paging "
            "forward: false, as the Relay spec allows a server that cannot tell cheaply."
        ),
    )
    end: strawberry.Private[Callable[[], str | None]] = no_cursor
    start: strawberry.Private[Callable[[], str | None]] = no_cursor
