"""A small in-process token bucket per client key (the client's IP on /s/).

Per process: on Lambda every container counts on its own, so the bound is per container;
it blunts one client hammering the route, it is not a global quota. Memory is bounded:
past ``max_clients`` keys, the buckets that have refilled completely are dropped first,
then the oldest."""

import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBuckets:
    def __init__(
        self,
        *,
        rate_per_second: float,
        burst: int,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_second <= 0 or burst < 1 or max_clients < 1:
            raise ValueError("rate_per_second, burst and max_clients must be positive")
        self._rate = rate_per_second
        self._burst = float(burst)
        self._max_clients = max_clients
        self._clock = clock
        # key -> (tokens, last refill time); most recently used last.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """0.0 when the request may go ahead (a token was taken); otherwise the seconds
        until a token is free (nothing taken)."""
        now = self._clock()
        tokens, last = self._buckets.pop(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self._rate
        if wait == 0.0:
            tokens -= 1
        self._buckets[key] = (tokens, now)
        self._evict(now)
        return wait

    def _evict(self, now: float) -> None:
        if len(self._buckets) <= self._max_clients:
            return
        full_after = self._burst / self._rate
        for key, (_, last) in list(self._buckets.items()):
            if now - last >= full_after:  # refilled: forgetting it changes nothing
                del self._buckets[key]
        while len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
