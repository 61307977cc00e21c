"""Structured JSON logs through Powertools' Logger, on Lambda and locally.

One handler (stdout, JSON, signatures redacted) serves the ``demobackend`` logger and the
app's own package loggers, so every line of a request — ours, a resolver's error, an
adapter's warning — carries its ``correlation_id``. Per-request keys live in Powertools'
contextvar-backed keys (``thread_safe_append_keys``), never in the formatter's shared keys
(``append_keys``), because locally many requests interleave on one event loop.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Any

from api.blob_routes import SignatureRedactingFilter

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

SERVICE = "demobackend"
# Loggers of our packages that do not already live under "demobackend.".
PACKAGE_LOGGERS = ("api", "adapters", "domain", "resolvers", "ops")


class StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at the time (Lambda's, uvicorn's, a test's
    capture), not to the one seen when the handler was made."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


_logger: Logger | None = None


def configure_logging(level: str) -> Logger:
    """The process's Powertools Logger (made once; the level follows the latest build)."""
    global _logger
    if _logger is None:
        from aws_lambda_powertools import Logger

        handler = StdoutHandler()
        handler.addFilter(SignatureRedactingFilter())
        _logger = Logger(
            service=SERVICE,
            level=level,
            logger_handler=handler,
            json_deserializer=_json_message,
        )
        for name in PACKAGE_LOGGERS:
            logging.getLogger(name).addHandler(handler)
        # Our handler prints each line once; a root handler (Lambda's, a test runner's)
        # would print it again in another format.
        for name in (SERVICE, *PACKAGE_LOGGERS):
            logging.getLogger(name).propagate = False
    _logger.setLevel(level)
    for name in PACKAGE_LOGGERS:
        logging.getLogger(name).setLevel(level)
    return _logger


# What a JSON text can start with (json.loads also takes NaN, Infinity and leading
# whitespace). The formatter tries to decode every str message as JSON, so that
# ``logger.info('{"a": 1}')`` logs an object; most messages ("request") are plain words,
# and failing them here skips building a JSONDecodeError per line.
_JSON_FIRST = frozenset('{["-0123456789tfnNI \t\n\r')


def _json_message(message: Any) -> Any:
    if isinstance(message, str) and message and message[0] not in _JSON_FIRST:
        raise ValueError("not JSON")
    return json.loads(message)


def begin_request(logger: Logger, **keys: Any) -> None:
    """Start this request's keys in the current context (dropping any left over)."""
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(**keys)


def end_request(logger: Logger) -> None:
    logger.thread_safe_clear_keys()
