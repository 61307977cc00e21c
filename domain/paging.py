"""Filtered pagination over an ordered source that only hands out a cursor for the end of
each page it returns (as DynamoDB and the ItemStore do).

Filtering while paging means a page of the source may hold more matches than the caller
wants. A cursor cannot point into the middle of a source page, so the last page is fetched
again, cut to end exactly at the last match taken: the next call then resumes right after
it — no gaps, no duplicates — for at most one extra fetch.
"""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from domain.errors import InvalidInputError

T = TypeVar("T")

PAGE_SIZE_MAX = 100  # the most edges one page may ask for (`first`)

# A source page: entries in order (None for an entry that turned out to be missing) and the
# cursor after the page's last entry (None when the source is exhausted).
Fetch = Callable[[str | None, int], Awaitable[tuple[list[T | None], str | None]]]

MAX_FETCHES = 8  # bounds the store calls one listing costs when a filter matches little
MAX_FETCH_SIZE = 100
MIN_FOLLOW_UP_SIZE = 25


async def collect(
    fetch: Fetch[T], *, first: int, after: str | None, keep: Callable[[T], bool]
) -> tuple[list[T], str | None]:
    """Up to ``first`` kept entries after ``after``, and the cursor to continue from.
    Returns fewer (with a cursor) when MAX_FETCHES pages held too few matches."""
    taken: list[T] = []
    position = after
    # The first fetch asks for exactly ``first``: when everything matches, as in a user's
    # own unfiltered listing, one source call answers the page.
    size = first
    for _ in range(MAX_FETCHES):
        wanted = first - len(taken)
        entries, cursor = await fetch(position, size)
        matches = [
            (i, entry) for i, entry in enumerate(entries) if entry is not None and keep(entry)
        ]
        if len(matches) > wanted:
            entries, cursor = await fetch(position, matches[wanted - 1][0] + 1)
            # The refetch normally holds exactly ``wanted`` matches; an entry that began to
            # match in between is left out rather than overflowing the page.
            taken += [entry for entry in entries if entry is not None and keep(entry)][:wanted]
            return taken, cursor
        taken += [entry for _, entry in matches]
        position = cursor
        if cursor is None or len(taken) == first:
            return taken, cursor
        # Matches are sparse: read ahead further, so a selective filter costs few calls.
        size = min(MAX_FETCH_SIZE, max(4 * (first - len(taken)), MIN_FOLLOW_UP_SIZE))
    return taken, position


def check_page_size(first: object) -> int:
    if isinstance(first, bool) or not isinstance(first, int) or not 1 <= first <= PAGE_SIZE_MAX:
        raise InvalidInputError(f"first must be between 1 and {PAGE_SIZE_MAX}")
    return first
