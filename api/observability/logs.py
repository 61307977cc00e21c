"""Structured JSON logs through Powertools' Logger, on Lambda and locally.

One handler (stdout, JSON, signatures redacted) serves the ``demobackend`` logger and the
app's own package loggers, so every line of a request — ours, a resolver's error, an
adapter's warning — carries its ``correlation_id``. Per-request keys live in Powertools'
contextvar-backed keys (``thread_safe_append_keys``), never in the formatter's shared keys
(``append_keys``), because locally many requests interleave on one event loop.
"""

from __future__ import annotations

import functools
import json
import json.encoder
import logging
import sys
import time
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from api.log_redaction import SignatureRedactingFilter
from api.observability.environ import any_set

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


class RequestKeys:
    """``begin_request``/``end_request`` for one logger, made once: while the logger's
    formatter is Powertools' own, its thread-safe keys are one contextvar, set directly
    (what clearing then appending leaves is the new keys alone) instead of through the
    ~6 calls of the logger's and formatter's methods each way."""

    def __init__(self, logger: Logger) -> None:
        from aws_lambda_powertools.logging.formatter import (
            THREAD_LOCAL_KEYS,
            LambdaPowertoolsFormatter,
        )

        self._logger = logger
        self._handler = logger.registered_handler
        self._keys = THREAD_LOCAL_KEYS
        self._formatter_type = LambdaPowertoolsFormatter

    def begin(self, **keys: Any) -> Mapping[str, Any] | None:
        """Start the request's keys; the dict that is now the current keys, if set here."""
        if type(self._handler.formatter) is self._formatter_type:
            self._keys.set(keys)
            return keys
        begin_request(self._logger, **keys)
        return None

    def end(self) -> None:
        if type(self._handler.formatter) is self._formatter_type:
            self._keys.set({})
        else:
            end_request(self._logger)


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
            THREAD_LOCAL_KEYS,
            LambdaPowertoolsFormatter,
        )
        from aws_lambda_powertools.shared.constants import XRAY_TRACE_ID_ENV

        self._logger = logger
        self._keys = THREAD_LOCAL_KEYS
        self._std = logging.getLogger(logger.name)
        self._reserved = frozenset(RESERVED_LOG_ATTRS)
        self._trace_set = any_set(XRAY_TRACE_ID_ENV)
        self._formatter_type = LambdaPowertoolsFormatter
        # Powertools' default time format, split around its milliseconds directive.
        directive = LambdaPowertoolsFormatter.custom_ms_time_directive
        time_format = LambdaPowertoolsFormatter.default_time_format
        before, _, after = time_format.partition(directive)
        self._time_format = (before, after)
        self._time_source = time_format
        self._split_time = time_format.count(directive) == 1 and "%%" not in time_format
        self._second: tuple[int, str, str] | None = None
        self._escaped_second: tuple[int, str, str] | None = None
        # Templates per (call site, message) for the formatter and log format seen last.
        self._templates: dict[tuple[Any, int, str], _Template | None] = {}
        self._template_formatter: Any = None
        self._template_format: dict[str, Any] = {}
        self._disjoint: tuple[_Template, frozenset[str]] | None = None

    def info(
        self,
        message: str,
        fields: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
        rendered: RenderedFields | None = None,
    ) -> None:
        """Log ``message`` with ``fields`` at INFO. ``fields`` may be a function giving
        them, called only if the line cannot use ``rendered`` (the same fields already
        in JSON, which the caller built from a format made once)."""
        std = self._std
        if not std.isEnabledFor(logging.INFO):
            return
        caller = sys._getframe(1)
        handler = self._handler()
        line = None
        if handler is not None:
            line = self._line(handler, message, fields, caller, time.time(), rendered)
        if handler is None or line is None:  # not reproducible here: Powertools writes it
            self._logger.info(message, extra=_given(fields), stacklevel=3)
            return
        line += handler.terminator
        # What StdoutHandler.emit does, under the lock handler.acquire() takes, written out
        # here: one call fewer on a path that runs once per request.
        lock = handler.lock
        if lock is None:
            stream = handler.stream = sys.stdout
            stream.write(line)
            stream.flush()
            return
        with lock:
            stream = handler.stream = sys.stdout
            stream.write(line)
            stream.flush()

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

    def _asctime_text(self, formatter: Any, created: float) -> str:
        """``formatter.formatTime`` at ``created`` as it is inside a JSON string: the
        escaped text around the milliseconds remembered for the second."""
        if (
            formatter.datefmt
            or formatter.use_rfc3339_iso8601
            or formatter.default_time_format is not self._time_source
            or not self._split_time
        ):
            return _escape(self._asctime(formatter, _Stamp(created)))[1:-1]
        second = int(created)
        cached = self._escaped_second
        if cached is None or cached[0] != second:
            moment = formatter.converter(created)
            before, after = self._time_format
            cached = (
                second,
                _escape(time.strftime(before, moment))[1:-1],
                _escape(time.strftime(after, moment))[1:-1],
            )
            self._escaped_second = cached
        # The milliseconds as LogRecord.msecs and the '%03d' of the format make them.
        return f"{cached[1]}{int((created - second) * 1000):03d}{cached[2]}"

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
        ):
            return None
        for filter_ in handler.filters:
            if type(filter_) is not SignatureRedactingFilter:
                return None
        return handler

    def _line(
        self,
        handler: StdoutHandler,
        message: str,
        fields: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
        caller: Any,
        created: float,
        rendered: RenderedFields | None = None,
    ) -> str | None:
        """The line, from the call site's template when there is one: the formatter's keys
        (level, location, message, timestamp, service) are the same text on every line
        from one call site but for the timestamp, so only the request's keys and fields
        are serialized per line (or not at all when they come ``rendered``)."""
        formatter: Any = handler.formatter
        if message[:1] in _JSON_FIRST or "=" in message:  # Powertools would parse or redact
            return None
        # The call site's template when the formatter is the one seen last (_template's
        # first step, here to spare a call); otherwise _template finds or makes it.
        template = _NO_TEMPLATE
        if formatter is self._template_formatter and (
            formatter.log_format == self._template_format
        ):
            template = self._templates.get((caller.f_code, caller.f_lasti, message), _NO_TEMPLATE)
        if template is _NO_TEMPLATE:
            template = self._template(formatter, message, caller)
        # Powertools' formatter reads its keys from one contextvar (two calls deep).
        context = (
            self._keys.get()
            if type(formatter) is self._formatter_type
            else formatter.thread_safe_get_current_keys()
        )
        # A request key or field named like one of the formatter's keys or a record
        # attribute would take that key's place or be dropped: the document decides.
        if template is None or not template.blocked.isdisjoint(context):
            return self._document_line(formatter, message, _given(fields), caller, created)
        if rendered is not None:
            # The keys a caller renders are one set per call site: the sets compared once
            # (each of their ~20 entries probed in the other is a cache miss per line).
            if self._disjoint != (template, rendered.keys):
                if not template.blocked.isdisjoint(rendered.keys):
                    rendered = None
                else:
                    self._disjoint = (template, rendered.keys)
            if rendered is not None and not rendered.keys.isdisjoint(context):
                rendered = None
        # Powertools' lookup, but only when the variable is there (on Lambda, per call).
        trace_id = formatter._get_latest_trace_id() if self._trace_set() else None
        try:
            if rendered is not None and context == rendered.context:
                # Most lines: the keys are still the ones rendered; one string is built.
                keys, text = rendered.context_text, rendered.text
                if trace_id is not None:
                    text += f',"xray_trace_id":{_escape(trace_id)}'
                if template.timed:
                    asctime = self._asctime_text(formatter, created)
                    return f"{template.head}{asctime}{template.after}{keys}{text}}}"
                return f"{template.head}{keys}{text}}}"
            if rendered is None:
                given = _given(fields)
                if not template.blocked.isdisjoint(given):
                    return self._document_line(formatter, message, given, caller, created)
                rest = {**context, **given} if context else given
                document = {key: value for key, value in rest.items() if value is not None}
                if trace_id is not None:
                    document["xray_trace_id"] = trace_id
                body = f",{template.encode(document)[1:-1]}" if document else ""
            else:  # the keys changed since the fields were rendered: written as they are
                known = {key: value for key, value in context.items() if value is not None}
                body = f",{template.encode(known)[1:-1]}" if known else ""
                body += rendered.text
                if trace_id is not None:
                    body += f',"xray_trace_id":{_escape(trace_id)}'
        except (TypeError, ValueError, RecursionError):
            return None  # Powertools' handler reports what its serializer cannot write
        head = template.head
        if template.timed:
            head += self._asctime_text(formatter, created) + template.after
        return f"{head}{body}}}"

    def _template(self, formatter: Any, message: str, caller: Any) -> _Template | None:
        if formatter is not self._template_formatter or (
            formatter.log_format != self._template_format
        ):
            self._templates.clear()
            self._template_formatter = formatter
            self._template_format = dict(formatter.log_format)
        # The instruction names the call site's line: f_lineno would walk the code's line
        # table on every line (~0.5 µs), f_lasti is read as it is.
        key = (caller.f_code, caller.f_lasti, message)
        try:
            return self._templates[key]
        except KeyError:
            pass
        if len(self._templates) >= _MAX_TEMPLATES:  # call sites are few; never unbounded
            self._templates.clear()
        template = self._templates[key] = self._build_template(formatter, message, caller)
        return template

    def _build_template(self, formatter: Any, message: str, caller: Any) -> _Template | None:
        """The formatter's part of the line rendered once, the timestamp left as a marker;
        None (the document path) for anything the template would not reproduce: another
        serializer or its options, a key naming a record attribute other than the call
        site's, level, logger name, message and asctime, or no "message" key of its own."""
        serializer = formatter.json_serializer
        options = {
            "default": formatter.json_default,
            "separators": (",", ":"),
            "indent": None,
            "ensure_ascii": False,
        }
        log_format: dict[str, Any] = formatter.log_format
        if (
            not isinstance(serializer, functools.partial)
            or serializer.func is not json.dumps
            or serializer.args
            or serializer.keywords != options
            or "message" not in log_format
        ):
            return None
        attributes = {
            "levelname": "INFO",
            "levelno": logging.INFO,
            "funcName": caller.f_code.co_name,
            "lineno": caller.f_lineno,
            "name": self._std.name,
            "msg": message,
            "asctime": _TIME_MARK,
        }
        head: dict[str, Any] = {}
        if not _resolve_keys(log_format, attributes, self._reserved, head):
            return None
        head["message"] = message
        text: str = serializer({key: value for key, value in head.items() if value is not None})
        marks = text.count(_TIME_MARK)
        if marks > 1 or not text.endswith("}"):
            return None
        before, _, after = text[:-1].partition(_TIME_MARK)
        blocked = frozenset((*log_format, "message", "xray_trace_id", *self._reserved))
        return _Template(before, after, marks == 1, blocked, json.JSONEncoder(**options).encode)

    def _document_line(
        self,
        formatter: Any,
        message: str,
        fields: Mapping[str, Any],
        caller: Any,
        created: float,
    ) -> str | None:
        """The line as Powertools' formatter builds it: one document of the formatter's
        keys, the request's keys and the fields, ``None`` values dropped, serialized."""
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
        for keys in (formatter.log_format, formatter.thread_safe_get_current_keys()):
            if not _resolve_keys(keys, attributes, reserved, document):
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


def _given(fields: Mapping[str, Any] | Callable[[], Mapping[str, Any]]) -> Mapping[str, Any]:
    return fields() if callable(fields) else fields


class RenderedFields(NamedTuple):
    """A line's fields already in JSON, as the formatter's serializer writes them."""

    keys: frozenset[str]  # every key ``text`` can hold
    text: str  # the fields as JSON object members, each after a comma; None values left out
    # The request's keys the text was rendered with (string values only, so equal keys
    # are written the same) and their JSON members, used while the current keys equal
    # them. (Compared, not identified: Powertools' remove_keys changes the dict in place.)
    context: Mapping[str, str] | None = None
    context_text: str = ""


class _Template(NamedTuple):
    head: str  # the line's start up to the timestamp (or all of the formatter's part)
    after: str  # after the timestamp, up to the closing brace
    timed: bool
    blocked: frozenset[str]  # keys a request key or field must not have (they would move)
    encode: Callable[[Any], str]  # the formatter's serializer with the same options


_NO_TEMPLATE: Any = object()  # not looked for yet (None: looked for, and there is none)
# A private-use character, which JSON leaves as it is: where the timestamp goes.
_TIME_MARK = "\ue000asctime\ue000"
_MAX_TEMPLATES = 64
_escape: Callable[[str], str] = json.encoder.encode_basestring  # json's, ensure_ascii off


def _resolve_keys(
    keys: Mapping[str, Any],
    attributes: Mapping[str, Any],
    reserved: Collection[str],
    into: dict[str, Any],
) -> bool:
    """Powertools' keys into ``into``: a key named like a LogRecord attribute holds a
    ``%``-format of the record's attributes, any other its value. False when a format is
    one this renderer does not take (the caller then goes the formatter's own way)."""
    try:
        for key, value in keys.items():
            if value and key in reserved:
                if not isinstance(value, str):
                    return False
                into[key] = value % attributes
            else:
                into[key] = value
    except (KeyError, TypeError, ValueError):
        return False
    return True
