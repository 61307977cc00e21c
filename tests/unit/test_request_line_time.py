"""The request line's timestamp is formatted once per second and completed with the
milliseconds; it must be exactly what Powertools' formatter writes for the same instant,
in UTC and in local time, across second boundaries."""

from __future__ import annotations

import logging
import time

import pytest

from api.observability.logs import RequestLineWriter, StdoutHandler, _Stamp, configure_logging


@pytest.mark.parametrize("utc", [False, True])
def test_the_cached_timestamp_is_powertools_own(utc: bool) -> None:
    logger = configure_logging("INFO")
    writer = RequestLineWriter(logger)
    # (pytest may have added its own capture handlers beside ours.)
    ours = [h for h in logging.getLogger(logger.name).handlers if type(h) is StdoutHandler]
    formatter: object = ours[0].formatter
    converter = formatter.converter  # type: ignore[attr-defined]
    formatter.converter = time.gmtime if utc else time.localtime  # type: ignore[attr-defined]
    try:
        start = 1764900000.0
        # Within one second (cached), across boundaries, and the last millisecond of one.
        for offset in (0.0, 0.0004, 0.5, 0.9995, 0.999999, 1.0, 1.001, 59.123, 3600.777, 0.2):
            stamp = _Stamp(start + offset)
            fast = writer._asctime(formatter, stamp)
            assert fast == formatter.formatTime(stamp)  # type: ignore[attr-defined]
    finally:
        formatter.converter = converter  # type: ignore[attr-defined]
