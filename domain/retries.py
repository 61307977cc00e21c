"""The one retry loop for optimistic (version-conditioned) writes.

A use case reads, decides and writes with a condition on what it read; when another
request changed the item in between, the write fails with ConflictError and the whole
attempt runs again on fresh data. Only lost races are retried: a ConflictError the
attempt raises itself (a stale ``expectedVersion``) is the caller's conflict and passes
through untouched.
"""

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from domain.deadline import ensure_time_for
from domain.errors import ConflictError, DomainError

T = TypeVar("T")

# Before retry n (n >= 1): a random pause of up to FIRST_RETRY_PAUSE * 2**(n - 1) seconds,
# capped at MAX_RETRY_PAUSE.
FIRST_RETRY_PAUSE = 0.01
MAX_RETRY_PAUSE = 0.16
_jitter = random.Random()  # noqa: S311 - spreads retries in time; nothing secret


class LostRace:
    """What an attempt returns when its conditional write lost to another request."""


LOST_RACE = LostRace()


async def pause_before_retry(attempt: int) -> None:
    """Attempt 0 does not wait. Before a retry: a random pause ("full jitter"), so writers
    racing for one item spread out instead of colliding again in lock step."""
    if attempt:
        ceiling = min(MAX_RETRY_PAUSE, FIRST_RETRY_PAUSE * 2 ** (attempt - 1))
        pause = _jitter.uniform(0, ceiling)
        # Not retried past the request's deadline: SERVICE_UNAVAILABLE instead of a write
        # that would start too late to finish.
        ensure_time_for(pause)
        await asyncio.sleep(pause)


async def won(write: Awaitable[None]) -> bool:
    """Runs a conditional write: False when it lost the race (the condition failed)."""
    try:
        await write
    except ConflictError:
        return False
    return True


async def retry_lost_races(
    attempt: Callable[[int], Awaitable[T | LostRace]],
    *,
    attempts: int,
    give_up: Callable[[], DomainError],
) -> T:
    """Runs ``attempt(n)`` until it returns a result, at most ``attempts`` times, pausing
    before each retry; raises ``give_up()`` when every attempt lost its race."""
    for n in range(attempts):
        await pause_before_retry(n)
        result = await attempt(n)
        if not isinstance(result, LostRace):
            return result
    raise give_up()
