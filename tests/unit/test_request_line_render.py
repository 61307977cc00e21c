"""The request line is rendered from formats made once (the formatter's keys per call site,
the request's fields per request) instead of a dict serialized per line. Its text must be
byte for byte what serializing the dict gave: the fields' JSON equal to the compact
``json.dumps`` of ``_log_fields``' dict, and the whole line equal to the document
Powertools' formatter would serialize, for strings that need escaping, missing values and
numbers; values it cannot write exactly go through the dict."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from api.observability.logs import RequestLineWriter, StdoutHandler, configure_logging
from api.observability.metrics import RequestSample
from api.observability.middleware import REQUEST_FIELDS, _log_fields, _rendered_fields
from resolvers.extensions.metrics import RequestFigures

AWKWARD = [
    "plain",
    "",
    'quo"te',
    "back\\slash",
    "new\nline\ttab\rreturn",
    "\x00\x01\x1f\x7f",
    "caf\u00e9 \u65e5\u672c \U0001f600",
    "\u2028\u2029",
    "</script>",
    "\ud800",  # a lone surrogate: json writes it as it is
]


def _finish() -> None:  # a code object named like the middleware's call site
    pass


# Where the line is logged from (its "location"), fixed while a test compares lines.
CALLER = SimpleNamespace(f_code=_finish.__code__, f_lineno=104, f_lasti=8)
NUMBERS = [0.0, 0.004, 0.005, 0.1, 1.23456, 12345.678, 1e-07, 1e16, 1.5e300, -0.0, -2.5]


def sample(
    text: str = "r-1",
    *,
    latency: float = 1.2345,
    counts: tuple[Any, ...] = (2, 3, 1, 0),
    graphql: bool = True,
    name: str | None = "Me",
    operation_type: str | None = "query",
    codes: tuple[str, ...] = (),
    user: str | None = "0123456789abcdef",
    search_ms: float | None = None,
    status: Any = 200,
) -> RequestSample:
    item_calls, items_read, blob_calls, presigns = counts
    figures = RequestFigures(
        request_id=text,
        item_calls=item_calls,
        items_read=items_read,
        blob_calls=blob_calls,
        blob_presigns=presigns,
        graphql=graphql,
        operation_name=name,
        operation_type=operation_type,
        error_codes=list(codes),
        user=user,
        search_ms=search_ms,
    )
    return RequestSample(
        route=f"/graphql{text}",
        operation=name or "anonymous",
        operation_type=operation_type or "none",
        status=status,
        latency_ms=latency,
        error_codes=codes,
        figures=figures,
        on_lambda=False,
    )


def samples() -> Iterator[tuple[dict[str, Any], RequestSample]]:
    scope: dict[str, Any] = {"method": "POST"}
    lambda_scope = {"method": "GET", "aws.context": SimpleNamespace(aws_request_id='a\u00e9"b')}
    for text in AWKWARD:
        yield scope, sample(text, name=text, operation_type=text, codes=(text, "NOT_FOUND"))
        yield {"method": text}, sample(user=text, graphql=False, codes=(text,), status=404)
        yield lambda_scope, sample(text, search_ms=0.5)
        # A named operation answered without errors: the one-format path.
        yield scope, sample(text, name=text, operation_type=text, user=text)
    for number in NUMBERS:
        yield scope, sample(latency=number, search_ms=number)
    yield scope, sample(name=None, operation_type=None, user=None)
    yield scope, sample(graphql=False)
    yield scope, sample(counts=(10**20, 7, 0, 12), status=503)


def reference(scope: dict[str, Any], sample: RequestSample) -> str:
    """The members json.dumps wrote for the dict, as Powertools' serializer writes them."""
    fields = {k: v for k, v in _log_fields(scope, sample).items() if v is not None}
    text = json.dumps(fields, default=str, separators=(",", ":"), ensure_ascii=False)
    return f",{text[1:-1]}"


@pytest.mark.parametrize(("scope", "sample"), list(samples()))
def test_the_rendered_fields_are_the_json_of_the_dict(
    scope: dict[str, Any], sample: RequestSample
) -> None:
    rendered = _rendered_fields(scope, sample)
    assert rendered is not None
    assert rendered.text == reference(scope, sample)
    assert set(json.loads("{" + rendered.text[1:] + "}")) <= rendered.keys == REQUEST_FIELDS


@pytest.mark.parametrize(
    ("scope", "sample"),
    [
        ({"method": "POST"}, sample(latency=float("nan"))),
        ({"method": "POST"}, sample(search_ms=float("inf"))),
        ({"method": "POST"}, sample(counts=(True, 1, 0, 0))),
        ({"method": "POST"}, sample(status=True)),
        ({}, sample()),  # no method: the dict leaves it out
    ],
)
def test_values_it_cannot_write_exactly_go_through_the_dict(
    scope: dict[str, Any], sample: RequestSample
) -> None:
    assert _rendered_fields(scope, sample) is None


@pytest.fixture
def writer() -> Iterator[tuple[RequestLineWriter, StdoutHandler]]:
    logger = configure_logging("INFO")
    std = logging.getLogger(logger.name)
    handlers = std.handlers
    # pytest's capture handlers beside ours would send every line through Powertools.
    std.handlers = [h for h in handlers if type(h) is StdoutHandler]
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(correlation_id='c-"1"\u00e9')
    try:
        writer = RequestLineWriter(logger)
        handler = writer._handler()
        assert handler is not None
        yield writer, handler
    finally:
        logger.thread_safe_clear_keys()
        std.handlers = handlers


@pytest.mark.parametrize("trace_id", [None, "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"])
def test_the_line_is_the_document_powertools_serializes(
    writer: tuple[RequestLineWriter, StdoutHandler],
    monkeypatch: pytest.MonkeyPatch,
    trace_id: str | None,
) -> None:
    if trace_id is not None:
        monkeypatch.setenv("_X_AMZN_TRACE_ID", trace_id)
    line_writer, handler = writer
    caller = CALLER
    assert line_writer._template(handler.formatter, "request", caller) is not None
    formatter: Any = handler.formatter
    context = formatter.thread_safe_get_current_keys()
    # Within a second, across one, and its last millisecond.
    instants = [1764900000.123456, 1764900000.9995, 1764900001.0, 1764903600.5]
    for created, (scope, one) in zip(instants * 20, samples(), strict=False):
        fields = _log_fields(scope, one)
        document = line_writer._document_line(formatter, "request", fields, caller, created)
        assert document is not None
        lines = [line_writer._line(handler, "request", fields, caller, created)]
        for rendered in (_rendered_fields(scope, one), _rendered_fields(scope, one, context)):
            lines.append(line_writer._line(handler, "request", fields, caller, created, rendered))
        # The keys rendered with the fields are used only while they are the current keys.
        stale = _rendered_fields(scope, one, {"correlation_id": "another"})
        assert stale is not None and stale.context_text
        lines.append(line_writer._line(handler, "request", fields, caller, created, stale))
        assert lines == [document] * 4
        parsed = json.loads(document)
        assert list(parsed)[:6] == [
            *("level", "location", "message", "timestamp", "service", "correlation_id")
        ]
        assert ("xray_trace_id" in parsed) is (trace_id is not None)


def test_keys_changed_in_place_after_rendering_are_written_as_they_are_now(
    writer: tuple[RequestLineWriter, StdoutHandler],
) -> None:
    line_writer, handler = writer
    formatter: Any = handler.formatter
    context = formatter.thread_safe_get_current_keys()
    scope, one = {"method": "POST"}, sample()
    rendered = _rendered_fields(scope, one, context)
    assert rendered is not None and rendered.context == context
    formatter.thread_safe_remove_keys(["correlation_id"])  # pops from the same dict
    assert formatter.thread_safe_get_current_keys() is context
    fields = _log_fields(scope, one)
    line = line_writer._line(handler, "request", fields, CALLER, 1.5, rendered)
    assert line == line_writer._document_line(formatter, "request", fields, CALLER, 1.5)
    assert line is not None and "correlation_id" not in json.loads(line)


@pytest.mark.parametrize("key", ["service", "message", "level", "xray_trace_id", "name"])
def test_a_field_named_like_the_formatters_keys_takes_the_document_path(
    writer: tuple[RequestLineWriter, StdoutHandler], key: str
) -> None:
    line_writer, handler = writer
    caller = CALLER
    fields = {"request_id": "r-1", key: "x\u00e9", "status": 200}
    document = line_writer._document_line(handler.formatter, "request", fields, caller, 1.5)
    assert line_writer._line(handler, "request", fields, caller, 1.5) == document


def test_each_call_site_and_log_format_has_its_own_template(
    writer: tuple[RequestLineWriter, StdoutHandler],
) -> None:
    line_writer, handler = writer
    formatter: Any = handler.formatter
    fields = {"request_id": "r-1", "status": 200}
    # Another line of the same function: the same code, another instruction.
    elsewhere = SimpleNamespace(f_code=CALLER.f_code, f_lineno=200, f_lasti=40)

    def lines() -> list[str | None]:
        return [
            line_writer._line(handler, "request", fields, at, 1.5) for at in (CALLER, elsewhere)
        ]

    def documents() -> list[str | None]:
        return [
            line_writer._document_line(formatter, "request", fields, at, 1.5)
            for at in (CALLER, elsewhere)
        ]

    for _ in range(2):  # made, then found again
        assert lines() == documents()
    assert [json.loads(line or "")["location"] for line in lines()] == [
        "_finish:104",
        "_finish:200",
    ]
    formatter.append_keys(stage="blue")  # the formatter's log format changes in place
    try:
        assert lines() == documents()
        assert all(json.loads(line or "")["stage"] == "blue" for line in lines())
    finally:
        formatter.remove_keys(["stage"])
    assert lines() == documents()


def test_rendered_fields_whose_keys_clash_are_not_written(
    writer: tuple[RequestLineWriter, StdoutHandler],
) -> None:
    line_writer, handler = writer
    scope, one = {"method": "POST"}, sample()
    fields = _log_fields(scope, one)
    rendered = _rendered_fields(scope, one)
    assert rendered is not None
    document = line_writer._document_line(handler.formatter, "request", fields, CALLER, 1.5)
    # The same template, first with keys that fit it (remembered), then with a clash.
    assert line_writer._line(handler, "request", fields, CALLER, 1.5, rendered) == document
    clashing = rendered._replace(keys=rendered.keys | {"service"}, text=',"service":"x"')
    assert line_writer._line(handler, "request", fields, CALLER, 1.5, clashing) == document
    assert line_writer._line(handler, "request", fields, CALLER, 1.5, rendered) == document
