"""Pauses between attempts of an optimistic (version-conditioned) write."""

import asyncio
import random

from domain.deadline import ensure_time_for

# Before retry n (n >= 1): a random pause of up to FIRST_RETRY_PAUSE * 2**(n - 1) seconds,
# capped at MAX_RETRY_PAUSE.
FIRST_RETRY_PAUSE = 0.01
MAX_RETRY_PAUSE = 0.16
_jitter = random.Random()  # noqa: S311 - spreads retries in time; nothing secret


async def pause_before_retry(attempt: int) -> None:
    """Call at the top of each attempt (attempt 0 does not wait). Before a retry: a random
    pause ("full jitter"), so writers racing for one item (a user's usage item under
    parallel uploads, a hot term's counter) spread out instead of colliding again in lock
    step; without it, 32 parallel uploads of one user ran out of attempts (bench/load.py)."""
    if attempt:
        ceiling = min(MAX_RETRY_PAUSE, FIRST_RETRY_PAUSE * 2 ** (attempt - 1))
        pause = _jitter.uniform(0, ceiling)
        # Not retried past the request's deadline: SERVICE_UNAVAILABLE instead of a write
        # that would start too late to finish.
        ensure_time_for(pause)
        await asyncio.sleep(pause)
