"""Filtered pagination over an ordered source that names every entry's position (as the
ItemStore's item cursors do).

Filtering while paging means a page of the source may hold more matches than the caller
wants. Every entry comes with a position that resumes right after it, so a page stops at
its last match exactly: the next call resumes right after it — no gaps, no duplicates —
without fetching anything again. Run on the source in the other direction, the same
positions resume right before their entries: that is how a listing pages backward, at the
same cost as forward.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from domain.errors import InvalidInputError

T = TypeVar("T")

PAGE_SIZE_MAX = 100  # the most edges one page may ask for (`first` or `last`)


@dataclass(frozen=True, slots=True)
class SourcePage(Generic[T]):
    """Entries in order (None for one that turned out to be missing), the position of each,
    and the position after the last one (None when the source is exhausted)."""

    entries: list[T | None]
    positions: list[str]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class Collected(Generic[T]):
    """Kept entries, the position of each, and where to continue (None: nothing is left)."""

    entries: list[T]
    positions: list[str]
    cursor: str | None


Fetch = Callable[[str | None, int], Awaitable[SourcePage[T]]]

MAX_FETCHES = 8  # bounds the store calls one listing costs when a filter matches little
MAX_FETCH_SIZE = 100
MIN_FOLLOW_UP_SIZE = 25


async def collect(
    fetch: Fetch[T], *, first: int, after: str | None, keep: Callable[[T], bool]
) -> Collected[T]:
    """Up to ``first`` kept entries after ``after``, and the position to continue from.
    Returns fewer (with a position) when MAX_FETCHES pages held too few matches."""
    taken: list[T] = []
    positions: list[str] = []
    position = after
    # The first fetch asks for exactly ``first``: when everything matches, as in a user's
    # own unfiltered listing, one source call answers the page.
    size = first
    for _ in range(MAX_FETCHES):
        page = await fetch(position, size)
        for entry, at in zip(page.entries, page.positions, strict=True):
            if entry is None or not keep(entry):
                continue
            taken.append(entry)
            positions.append(at)
            if len(taken) == first:
                more = at != page.positions[-1] or page.cursor is not None
                return Collected(taken, positions, at if more else None)
        position = page.cursor
        if position is None:
            return Collected(taken, positions, None)
        # Matches are sparse: read ahead further, so a selective filter costs few calls.
        size = min(MAX_FETCH_SIZE, max(4 * (first - len(taken)), MIN_FOLLOW_UP_SIZE))
    return Collected(taken, positions, position)


def check_page_size(first: object, *, name: str = "first") -> int:
    if isinstance(first, bool) or not isinstance(first, int) or not 1 <= first <= PAGE_SIZE_MAX:
        raise InvalidInputError(f"{name} must be between 1 and {PAGE_SIZE_MAX}")
    return first
