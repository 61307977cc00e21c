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
import time
from typing import TYPE_CHECKING, Any

from api.log_redaction import SignatureRedactingFilter

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


class _Stamp:
    """What ``LambdaPowertoolsFormatter.formatTime`` reads of a record."""

    __slots__ = ("created", "msecs")

    def __init__(self, created: float) -> None:
        self.created = created
        self.msecs = int((created - int(created)) * 1000) + 0.0  # as LogRecord does


class RequestLineWriter:
    """Writes the once-per-request ``request`` line without a ``LogRecord``.

    The line is the document Powertools' formatter would print for
    ``logger.info(message, extra=fields)`` — the same keys in the same order (the
    formatter's keys: level, location, message, timestamp, service, …; then the
    request's thread-safe keys such as ``correlation_id``; then ``fields``; then
    ``xray_trace_id`` when set), the same timestamp format, the same serializer, ``None``
    values dropped — written to the same handler's stream, at INFO and only when the
    logger is enabled for INFO. It skips the record, the caller lookup through the
    stack, and the formatter's copy and filter of the record's ~25 attributes.

    Anything it does not reproduce (another handler or filter, log buffering, a custom
    formatter key naming a record attribute it does not fill in) sends the line through
    ``logger.info`` instead, so the output never differs. Every other line goes through
    Powertools as usual. The message and field names are the caller's constants; the
    values are ids, figures, a route template and a hashed user id (no URLs, no tokens),
    which is why the signature-redacting filter, which only rewrites the message and its
    arguments, has nothing to do here.
    """

    def __init__(self, logger: Logger) -> None:
        from aws_lambda_powertools.logging.formatter import (
            RESERVED_LOG_ATTRS,
            LambdaPowertoolsFormatter,
        )

        self._logger = logger
        self._std = logging.getLogger(logger.name)
        self._reserved = frozenset(RESERVED_LOG_ATTRS)
        self._formatter_type = LambdaPowertoolsFormatter
        # Powertools' default time format, split around its milliseconds directive.
        directive = LambdaPowertoolsFormatter.custom_ms_time_directive
        time_format = LambdaPowertoolsFormatter.default_time_format
        before, _, after = time_format.partition(directive)
        self._time_format = (before, after)
        self._time_source = time_format
        self._split_time = time_format.count(directive) == 1 and "%%" not in time_format
        self._second: tuple[int, str, str] | None = None

    def info(self, message: str, fields: dict[str, Any]) -> None:
        std = self._std
        if not std.isEnabledFor(logging.INFO):
            return
        caller = sys._getframe(1)
        handler = self._handler()
        line = self._line(handler, message, fields, caller) if handler is not None else None
        if handler is None or line is None:  # not reproducible here: Powertools writes it
            self._logger.info(message, extra=fields, stacklevel=3)
            return
        handler.acquire()
        try:
            stream = handler.stream = sys.stdout
            stream.write(line + handler.terminator)
            stream.flush()
        finally:
            handler.release()

    def _asctime(self, formatter: Any, stamp: _Stamp) -> str:
        """``formatter.formatTime(stamp)``, its two strftime calls made once per second: in
        Powertools' default time format (no datefmt) only the milliseconds, between the
        seconds and the zone, change within a second."""
        if (
            formatter.datefmt
            or formatter.use_rfc3339_iso8601
            or formatter.default_time_format is not self._time_source
            or not self._split_time
        ):
            text: str = formatter.formatTime(stamp)
            return text
        second = int(stamp.created)
        cached = self._second
        if cached is None or cached[0] != second:
            moment = formatter.converter(stamp.created)
            before, after = self._time_format
            cached = (second, time.strftime(before, moment), time.strftime(after, moment))
            self._second = cached
        return f"{cached[1]}{int(stamp.msecs):03d}{cached[2]}"  # as its '%03d'

    def _handler(self) -> StdoutHandler | None:
        std = self._std
        handlers = std.handlers
        if len(handlers) != 1 or std.filters or self._logger._buffer_config:
            return None
        handler = handlers[0]
        if (
            type(handler) is not StdoutHandler
            or handler.level > logging.INFO
            or type(handler.formatter) is not self._formatter_type
            or any(type(f) is not SignatureRedactingFilter for f in handler.filters)
        ):
            return None
        return handler

    def _line(
        self, handler: StdoutHandler, message: str, fields: dict[str, Any], caller: Any
    ) -> str | None:
        formatter: Any = handler.formatter
        if message[:1] in _JSON_FIRST or "=" in message:  # Powertools would parse or redact
            return None
        created = time.time()
        stamp = _Stamp(created)
        attributes = {
            "levelname": "INFO",
            "levelno": logging.INFO,
            "funcName": caller.f_code.co_name,
            "lineno": caller.f_lineno,
            "asctime": self._asctime(formatter, stamp),
            "name": self._std.name,
            "msg": message,
            "created": created,
            "msecs": stamp.msecs,
        }
        reserved = self._reserved
        document: dict[str, Any] = {}
        try:
            for keys in (formatter.log_format, formatter.thread_safe_get_current_keys()):
                for key, value in keys.items():
                    if value and key in reserved:
                        if not isinstance(value, str):
                            return None
                        document[key] = value % attributes
                    else:
                        document[key] = value
        except (KeyError, TypeError, ValueError):
            return None
        for key, value in fields.items():
            if key not in reserved:
                document[key] = value
        document["message"] = message
        # (Powertools' exception and stack trace keys are None without exc_info: dropped.)
        document["xray_trace_id"] = formatter._get_latest_trace_id()
        line: str = formatter.serialize(
            log={key: value for key, value in document.items() if value is not None}
        )
        return line
