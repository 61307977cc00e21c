"""The one fake clock of the tests: time stands still until a test moves it on.

Services take a clock returning an aware datetime (call the clock itself); stores and the
JWT verifier take one returning epoch seconds (pass the bound method ``clock.seconds``).
Both read the same instant, so a test that advances one advances the other.
"""

from datetime import UTC, datetime, timedelta


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        # Without a start: the real time now, for what is checked against a real clock too
        # (a presigned URL a server validates, a token's expiry).
        self.now = start if start is not None else datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float = 1) -> None:
        self.now += timedelta(seconds=seconds)
