"""A circuit breaker per dependency (item store, blob store, identity provider's keys).

Closed: calls pass; ``failure_threshold`` failures in a row open it. Open: calls are
refused at once with CircuitOpenError (SERVICE_UNAVAILABLE + Retry-After), the dependency
is not called. After ``reset_seconds`` it is half-open: exactly ONE trial call passes
(others are still refused); its success closes the breaker, its failure opens it again.

Written here rather than taken from purgatory or aiobreaker (both installable): purgatory's
half-open state lets every concurrent call through, not one trial, reads the wall clock
(time.time) rather than a monotonic, injectable one, and sends each call's outcome
through its message bus (an await per call on the healthy path); aiobreaker has had no
release since 2021 and also admits concurrent calls while half-open. The state machine
below is small, synchronous between awaits, and tested on its own.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from domain.errors import CircuitOpenError, ContendedError, DomainError, StoreUnavailableError

logger = logging.getLogger("demobackend.breaker")

_T = TypeVar("_T")
State = Literal["closed", "open", "half_open"]
Listener = Callable[[str, "State", "State"], None]


def counts_as_failure(exc: BaseException) -> bool:
    """The dependency failed or was too slow; a domain answer (not found, conflict, bad
    input) is the dependency working. A cancellation is neither: the caller stopped
    waiting (a client gone, a sibling read failed), which says nothing of the dependency;
    its own deadline arrives as DeadlineExceededError, which counts."""
    if isinstance(exc, CircuitOpenError | ContendedError | asyncio.CancelledError):
        return False  # refused unasked, the store answering "not now", or nobody waiting
    return isinstance(exc, StoreUnavailableError | TimeoutError) or not isinstance(exc, DomainError)


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        label: str,
        failure_threshold: int = 5,
        reset_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or reset_seconds <= 0:
            raise ValueError("breaker: threshold >= 1 and reset_seconds > 0")
        self.name = name  # "items", "blobs", "jwks": metrics, logs, /readyz
        self._label = label  # what users read: "item store"
        self._threshold = failure_threshold
        self._reset = reset_seconds
        self._clock = clock
        self._state: State = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._trial_running = False
        self._listeners: list[Listener] = []
        self.refused = 0  # calls failed fast while open (bench, tests)
        self.opened = 0  # times it opened

    @property
    def state(self) -> State:
        if self._state == "open" and self._clock() >= self._opened_at + self._reset:
            return "half_open"
        return self._state

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def call(self, work: Callable[[], Awaitable[_T]]) -> _T:
        trial = self._admit()
        try:
            result = await work()
        except BaseException as exc:
            self.settle_failure(exc, trial)
            raise
        self.settle_success(trial)
        return result

    @property
    def closed(self) -> bool:
        """True while calls pass without a trial: ``call`` then admits at once, so a caller
        on the hot path may run the work itself and settle it with the two methods below
        (what ``call`` does, without its coroutine and the work's closure)."""
        return self._state == "closed"

    def settle_success(self, trial: bool = False) -> None:
        if trial or self._failures:  # a healthy run leaves nothing to reset
            self._passed(trial)

    def settle_failure(self, exc: BaseException, trial: bool = False) -> None:
        if counts_as_failure(exc):
            self._failed(trial)
        elif isinstance(exc, DomainError):  # the dependency answered
            self._passed(trial)
        elif trial:  # cancelled: the trial proved nothing; the next call is the trial
            self._trial_running = False

    def _admit(self) -> bool:
        """True when this call is the half-open trial; raises when refused."""
        if self._state == "closed":
            return False
        if self._state == "open" and self._clock() >= self._opened_at + self._reset:
            self._change("half_open")
        if self._state == "half_open" and not self._trial_running:
            self._trial_running = True
            return True
        self.refused += 1
        wait = self._opened_at + self._reset - self._clock()
        raise CircuitOpenError(self._label, retry_after_seconds=math.ceil(max(wait, 1.0)))

    def _passed(self, trial: bool) -> None:
        if trial:
            self._trial_running = False
            self._failures = 0
            self._change("closed")
        elif self._state == "closed":
            self._failures = 0
        # A call admitted before the breaker opened proves nothing about now: ignored.

    def _failed(self, trial: bool) -> None:
        if trial:
            self._trial_running = False
            self._open()
        elif self._state == "closed":
            self._failures += 1
            if self._failures >= self._threshold:
                self._open()

    def _open(self) -> None:
        self._opened_at = self._clock()
        self.opened += 1
        self._change("open")

    def _change(self, new: State) -> None:
        old, self._state = self._state, new
        # One line per change: the runbook (docs/RUNBOOK.md) starts from these.
        log = logger.warning if new == "open" else logger.info
        log(
            "circuit breaker %s: %s -> %s",
            self.name,
            old,
            new,
            extra={"breaker": self.name, "breaker_from": old, "breaker_to": new},
        )
        for listener in self._listeners:
            listener(self.name, old, new)
