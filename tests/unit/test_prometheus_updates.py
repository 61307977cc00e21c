"""The Prometheus recorder updates its label children's values directly (not through
prometheus-client's inc/observe); /metrics must read exactly as through the public
methods: every count, sum and bucket, including amounts on a bucket's bound."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest

from api.observability import metrics
from api.observability.metrics import LATENCY_BUCKETS, PrometheusRecorder, RequestSample
from resolvers.extensions.metrics import RequestFigures


def _public(children: tuple[Any, ...]) -> tuple[Any, ...]:
    requests, latency, *counters = children
    return (requests.inc, latency.observe, *(counter.inc for counter in counters))


def _samples() -> list[RequestSample]:
    latencies_ms = [0.0, 0.3, 250.0, 20_000.0, *(bound * 1000 for bound in LATENCY_BUCKETS)]
    out = []
    for n, latency in enumerate(latencies_ms):
        figures = RequestFigures(
            request_id=f"r{n}",
            item_calls=n % 3,
            items_read=n % 4,
            blob_calls=n % 2,
            blob_presigns=n % 5,
        )
        for status in (200, 503):
            out.append(
                RequestSample(
                    route="/graphql",
                    operation="Me" if n % 2 else "anonymous",
                    operation_type="query",
                    status=status,
                    latency_ms=latency,
                    error_codes=("SERVICE_UNAVAILABLE",) if status == 503 else (),
                    figures=figures,
                    on_lambda=False,
                )
            )
    return out


def _exposition(recorder: PrometheusRecorder) -> list[str]:
    text = generate_latest(recorder.registry).decode()
    return [line for line in text.splitlines() if "_created" not in line]  # a clock


def test_direct_updates_read_as_the_public_methods(monkeypatch: pytest.MonkeyPatch) -> None:
    direct = PrometheusRecorder()
    for sample in _samples():
        direct.record(sample)
    monkeypatch.setattr(metrics, "_updates", _public)
    public = PrometheusRecorder()
    for sample in _samples():
        public.record(sample)
    assert _exposition(direct) == _exposition(public)
    lines = _exposition(direct)
    assert any(line.startswith("demobackend_request_duration_seconds_bucket") for line in lines)


def test_a_negative_count_is_refused_as_counter_inc_refuses_it() -> None:
    recorder = PrometheusRecorder()
    figures = RequestFigures(request_id="r", item_calls=-1)
    sample = RequestSample("/graphql", "Me", "query", 200, 1.0, (), figures, False)
    with pytest.raises(ValueError, match="non-negative"):
        recorder.record(sample)
