"""The time the current request has left (a contextvar: one deadline per request task).

The HTTP edge sets it (api/deadlines.py: the Lambda invocation's remaining time minus a
margin, or REQUEST_TIMEOUT_SECONDS); adapters read it to bound each call and to decide
whether a retry can still finish. Outside a request (CLI, backups) there is no deadline.
"""

import time
from contextlib import AbstractContextManager
from contextvars import ContextVar, Token

from domain.errors import DeadlineExceededError

_deadline: ContextVar[float | None] = ContextVar("demobackend_deadline", default=None)


def current() -> float | None:
    """The current deadline on time.monotonic()'s clock, or None when nothing bounds the
    work: for callers that check it and bound a call with one clock read."""
    return _deadline.get()


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
        self._token = begin(self._seconds)

    def __exit__(self, *exc_info: object) -> None:
        _deadline.reset(self._token)


def begin(seconds: float) -> Token[float | None]:
    """``deadline_in`` without the context manager, for the once-per-request middleware (a
    ``with`` costs more than the deadline itself); pass the token to ``end``."""
    deadline = time.monotonic() + seconds
    outer = _deadline.get()
    if outer is not None and outer < deadline:
        deadline = outer
    return _deadline.set(deadline)


def end(token: Token[float | None]) -> None:
    _deadline.reset(token)
