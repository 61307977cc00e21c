"""The time the current request has left (a contextvar: one deadline per request task).

The HTTP edge sets it (api/deadlines.py: the Lambda invocation's remaining time minus a
margin, or REQUEST_TIMEOUT_SECONDS); adapters read it to bound each call and to decide
whether a retry can still finish. Outside a request (CLI, backups) there is no deadline.
"""

import time
from contextlib import AbstractContextManager
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


def deadline_in(seconds: float) -> AbstractContextManager[None]:
    """Bound the enclosed work to ``seconds`` from now (from entering); an outer, earlier
    deadline wins."""
    return _Bound(seconds)


class _Bound:
    """deadline_in's context manager. A class rather than ``@contextmanager``: it is
    entered on every request (twice on Lambda), and a generator-based one costs ~0.7 µs
    more per use (bench/README.md, "Lambda warm path", round six)."""

    __slots__ = ("_seconds", "_token")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    def __enter__(self) -> None:
        deadline = time.monotonic() + self._seconds
        outer = _deadline.get()
        if outer is not None:
            deadline = min(deadline, outer)
        self._token = _deadline.set(deadline)

    def __exit__(self, *exc_info: object) -> None:
        _deadline.reset(self._token)
