"""The time the current request has left (a contextvar: one deadline per request task).

The HTTP edge sets it (api/deadlines.py: the Lambda invocation's remaining time minus a
margin, or REQUEST_TIMEOUT_SECONDS); adapters read it to bound each call and to decide
whether a retry can still finish. Outside a request (CLI, backups) there is no deadline.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from domain.errors import DeadlineExceededError

_deadline: ContextVar[float | None] = ContextVar("demobackend_deadline", default=None)


def remaining() -> float | None:
    """Seconds left (may be negative), or None when nothing bounds the current work."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def ensure_time_for(seconds: float) -> None:
    """Raise DeadlineExceededError unless at least ``seconds`` are left."""
    left = remaining()
    if left is not None and left < seconds:
        raise DeadlineExceededError


@contextmanager
def deadline_in(seconds: float) -> Iterator[None]:
    """Bound the enclosed work to ``seconds`` from now; an outer, earlier deadline wins."""
    deadline = time.monotonic() + seconds
    outer = _deadline.get()
    if outer is not None:
        deadline = min(deadline, outer)
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)
