"""A process-wide retry budget: retries may add at most ``ratio`` of the calls made, plus
a small floor per second so a quiet process can still retry at all.

Without it, every throttled call retrying several times multiplies the load on a
dependency exactly when it is struggling (a retry storm). A token bucket: each first
attempt deposits ``ratio`` of a token, time deposits ``floor_per_second``, each retry
takes one whole token; the bucket holds at most ``burst`` tokens, so the bound holds over
any window, not just on average.
"""

import time
from collections.abc import Callable


class RetryBudget:
    def __init__(
        self,
        *,
        ratio: float = 0.1,
        floor_per_second: float = 1.0,
        burst: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= ratio <= 1 or floor_per_second < 0 or burst < 1:
            raise ValueError("retry budget: ratio in [0, 1], floor >= 0, burst >= 1")
        self.ratio = ratio
        self._floor = floor_per_second
        self._burst = burst
        self._clock = clock
        self._tokens = burst
        self._last = clock()
        self.calls = 0
        self.retries = 0
        self.refused = 0

    def record_call(self) -> None:
        """A first attempt is about to be sent."""
        self.calls += 1
        self._refill(self.ratio)

    def try_retry(self) -> bool:
        """Take a token for one retry; False means: give up instead of retrying."""
        self._refill(0.0)
        if self._tokens >= 1:
            self._tokens -= 1
            self.retries += 1
            return True
        self.refused += 1
        return False

    def _refill(self, deposit: float) -> None:
        now = self._clock()
        earned = (now - self._last) * self._floor + deposit
        self._last = now
        self._tokens = min(self._burst, self._tokens + earned)
