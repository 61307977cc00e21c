"""The EMF document is written from precomputed pieces; it must be, byte for byte, the
compact ``json.dumps`` of the document (what CloudWatch parses and the alarms read),
whatever the route, operation, figures and error codes."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from api.observability.metrics import EmfRecorder, RequestSample
from resolvers.extensions.metrics import RequestFigures

NAMESPACE = 'Demo/té"st'


def _expected(sample: RequestSample, timestamp: int, recorder: EmfRecorder) -> list[str]:
    figures = sample.figures
    searched = figures.search_ms is not None
    directives = [*recorder._directives[searched], recorder._by_service]
    document: dict[str, Any] = {
        "_aws": {"Timestamp": timestamp, "CloudWatchMetrics": directives},
        "route": sample.route,
        "operation": sample.operation,
        "service": "demobackend",
        "Requests": [1.0],
        "Latency": [float(sample.latency_ms)],
        "Errors": [float(len(sample.error_codes))],
        "Faults": [float(sample.status >= 500)],
        "InternalErrors": [float(sample.internal_error)],
        "Unavailable": [float(sample.unavailable)],
        "StoreCalls": [float(figures.store_calls)],
        "ItemsRead": [float(figures.items_read)],
        "BlobPresigns": [float(figures.blob_presigns)],
    }
    if searched:
        document["SearchLatency"] = [float(figures.search_ms or 0)]
    lines = [json.dumps(document, separators=(",", ":"))]
    for code in sorted(set(sample.error_codes)):
        by_code = {
            "_aws": {"Timestamp": timestamp, "CloudWatchMetrics": recorder._by_code_directive},
            "route": sample.route,
            "operation": sample.operation,
            "code": code,
            "service": "demobackend",
            "ErrorsByCode": [float(sample.error_codes.count(code))],
        }
        lines.append(json.dumps(by_code, separators=(",", ":")))
    return lines


@pytest.mark.parametrize("route", ["/graphql", "/blobs/*"])
@pytest.mark.parametrize("operation", ["Me", "anonymous", 'é"x'])
@pytest.mark.parametrize("search_ms", [None, 12.345678])
@pytest.mark.parametrize(
    ("status", "codes"),
    [(200, ()), (200, ("BAD_USER_INPUT", "INTERNAL_SERVER_ERROR", "BAD_USER_INPUT")), (503, ())],
)
def test_the_document_is_the_compact_json_of_its_fields(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    route: str,
    operation: str,
    search_ms: float | None,
    status: int,
    codes: tuple[str, ...],
) -> None:
    monkeypatch.setattr(time, "time", lambda: 1764900000.1234)
    recorder = EmfRecorder(NAMESPACE, "demobackend")
    figures = RequestFigures(
        request_id="r", item_calls=3, items_read=7, blob_calls=1, blob_presigns=2
    )
    figures.search_ms = search_ms
    for latency in (0.0, 1234.56789, 3):  # the second time from the cached pieces
        sample = RequestSample(
            route=route,
            operation=operation,
            operation_type="query",
            status=status,
            latency_ms=latency,
            error_codes=codes,
            figures=figures,
            on_lambda=True,
        )
        capsys.readouterr()
        recorder.record(sample)
        written = capsys.readouterr().out
        assert written == "\n".join(_expected(sample, 1764900000123, recorder)) + "\n"


def test_metrics_disabled_writes_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    sample = RequestSample(
        route="/graphql",
        operation="Me",
        operation_type="query",
        status=200,
        latency_ms=1.0,
        error_codes=(),
        figures=RequestFigures(request_id="r"),
        on_lambda=True,
    )
    capsys.readouterr()
    EmfRecorder(NAMESPACE, "demobackend").record(sample)
    assert capsys.readouterr().out == ""
