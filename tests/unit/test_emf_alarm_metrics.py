"""The EMF metrics the stack's alarms watch: a masked internal error (HTTP 200 inside
GraphQL) and an escaped exception (Mangum's 500) both count as InternalErrors, by operation
and by service alone; SERVICE_UNAVAILABLE counts as Unavailable; a client's mistake
counts as neither."""

from __future__ import annotations

import json
from typing import Any

import pytest

from api.observability.metrics import (
    INTERNAL_ERRORS_METRIC,
    MAX_ERROR_CODES,
    UNAVAILABLE_METRIC,
    EmfRecorder,
    Labeller,
    RequestSample,
)
from resolvers.extensions.metrics import RequestFigures


def _emit(capsys: pytest.CaptureFixture[str], status: int, codes: list[str]) -> dict[str, Any]:
    figures = RequestFigures(request_id="r1", graphql=True, operation_name="Upload")
    figures.error_codes.extend(codes)
    labeller = Labeller()
    sample = RequestSample(
        route="/graphql",
        operation=labeller.operation(figures),
        operation_type="mutation",
        status=status,
        latency_ms=3.0,
        error_codes=labeller.error_codes(figures, status),
        figures=figures,
        on_lambda=True,
    )
    capsys.readouterr()
    EmfRecorder("DemoBackend/test", "demobackend").record(sample)
    main: dict[str, Any] = json.loads(capsys.readouterr().out.splitlines()[0])
    return main


def _published(document: dict[str, Any], metric: str) -> list[list[str]]:
    """The dimension sets under which ``metric`` is published."""
    return [
        dimensions
        for directive in document["_aws"]["CloudWatchMetrics"]
        if metric in {m["Name"] for m in directive["Metrics"]}
        for dimensions in directive["Dimensions"]
    ]


@pytest.mark.parametrize(
    ("status", "codes", "internal", "unavailable"),
    [
        (200, ["INTERNAL_SERVER_ERROR"], 1.0, 0.0),  # masked inside GraphQL
        (500, [], 1.0, 0.0),  # an exception Mangum answered
        (200, ["SERVICE_UNAVAILABLE"], 0.0, 1.0),
        (503, [], 0.0, 1.0),
        (200, ["BAD_USER_INPUT"], 0.0, 0.0),
        (401, [], 0.0, 0.0),
        (200, [], 0.0, 0.0),
    ],
)
def test_failures_on_our_side_are_counted_and_client_mistakes_are_not(
    capsys: pytest.CaptureFixture[str],
    status: int,
    codes: list[str],
    internal: float,
    unavailable: float,
) -> None:
    document = _emit(capsys, status, codes)
    assert document[INTERNAL_ERRORS_METRIC] == [internal]
    assert document[UNAVAILABLE_METRIC] == [unavailable]
    assert document["operation"] == "Upload"


@pytest.mark.parametrize("metric", ["Requests", INTERNAL_ERRORS_METRIC, UNAVAILABLE_METRIC])
def test_alarmed_metrics_are_published_by_operation_and_by_service_alone(
    capsys: pytest.CaptureFixture[str], metric: str
) -> None:
    document = _emit(capsys, 200, ["INTERNAL_SERVER_ERROR"])
    assert _published(document, metric) == [["route", "operation", "service"], ["service"]]
    assert document["service"] == "demobackend"


def test_the_code_cap_never_hides_an_alarmed_code() -> None:
    labeller = Labeller()
    for n in range(MAX_ERROR_CODES + 5):
        figures = RequestFigures(request_id=str(n), error_codes=[f"CODE_{n}"])
        labeller.error_codes(figures, 200)
    figures = RequestFigures(
        request_id="late", error_codes=["INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "LATE"]
    )
    assert labeller.error_codes(figures, 200) == (
        "INTERNAL_SERVER_ERROR",
        "SERVICE_UNAVAILABLE",
        "other",
    )
