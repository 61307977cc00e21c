"""Progress of long backup work: ``progress(phase, done, total)``; total None when unknown
(a scan does not know how many items are left)."""

import sys
import time
from collections.abc import Callable
from typing import TextIO

Progress = Callable[[str, int, int | None], None]
BAR_WIDTH = 30
REDRAW_SECONDS = 0.2


def text_bar(phase: str, done: int, total: int | None, width: int = BAR_WIDTH) -> str:
    if total is None:
        return f"\r{phase}: {done}"
    filled = width if total == 0 else width * min(done, total) // total
    return f"\r{phase} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


class StderrProgress:
    """One bar per phase on stderr, redrawn at most five times a second; ``close`` ends
    the last line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._out = stream if stream is not None else sys.stderr
        self._phase: str | None = None
        self._drawn = 0.0

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if phase != self._phase:
            if self._phase is not None:
                print(file=self._out)
            self._phase = phase
        elif (total is None or done < total) and now - self._drawn < REDRAW_SECONDS:
            return
        self._drawn = now
        print(text_bar(phase, done, total), end="", file=self._out, flush=True)

    def close(self) -> None:
        if self._phase is not None:
            print(file=self._out, flush=True)
            self._phase = None
