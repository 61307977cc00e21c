"""Request metrics: Prometheus text at ``GET /metrics`` (locally) and CloudWatch EMF
through Powertools Metrics (on Lambda). Both receive the same ``RequestSample``.

Dimensions and labels are bounded: route templates (never raw paths), operation names only
for named operations matching GraphQL's name grammar and only the first
``MAX_OPERATION_NAMES`` distinct ones per process (the rest are "other", unnamed ones
"anonymous"), error codes likewise capped, and no user ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from aws_lambda_powertools.metrics import EphemeralMetrics

    from resolvers.extensions.metrics import RequestFigures

MAX_OPERATION_NAMES = 50
MAX_ERROR_CODES = 30
ANONYMOUS = "anonymous"
OTHER = "other"
NOT_GRAPHQL = "none"
_ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,39}")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class BoundedNames:
    """The first ``limit`` distinct names seen are kept as they are; later ones are OTHER."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._names: set[str] = set()

    def label(self, name: str) -> str:
        if name in self._names:
            return name
        if len(self._names) < self._limit:
            self._names.add(name)
            return name
        return OTHER


@dataclass(frozen=True, slots=True)
class RequestSample:
    route: str  # a route template: "/graphql", "/blobs/*", "unmatched"
    operation: str  # bounded: a name, "anonymous", "other", or "none" (not GraphQL)
    operation_type: str  # "query", "mutation", "none"
    status: int
    latency_ms: float
    error_codes: tuple[str, ...]  # bounded
    figures: RequestFigures
    on_lambda: bool  # the request came through API Gateway and Mangum


class Labeller:
    """Turns a request's raw figures into bounded labels; one per app."""

    def __init__(self) -> None:
        self._operations = BoundedNames(MAX_OPERATION_NAMES)
        self._codes = BoundedNames(MAX_ERROR_CODES)

    def operation(self, figures: RequestFigures) -> str:
        if not figures.graphql:
            return NOT_GRAPHQL
        if figures.operation_name is None:
            return ANONYMOUS
        return self._operations.label(figures.operation_name)

    def error_codes(self, figures: RequestFigures, status: int) -> tuple[str, ...]:
        codes = list(figures.error_codes)
        if not codes and status >= 400:
            codes.append(f"HTTP_{status}")
        return tuple(
            self._codes.label(code) if _ERROR_CODE.fullmatch(code) else OTHER for code in codes
        )


class Recorder(Protocol):
    def record(self, sample: RequestSample) -> None: ...


class PrometheusRecorder:
    """Its own CollectorRegistry (never the global one), so apps and tests do not collide."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        where = ("route", "operation")
        self._requests = Counter(
            "demobackend_requests",
            "Requests answered, by route, GraphQL operation, operation type and HTTP status.",
            (*where, "operation_type", "status"),
            registry=self.registry,
        )
        self._latency = Histogram(
            "demobackend_request_duration_seconds",
            "Request latency in seconds.",
            where,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._errors = Counter(
            "demobackend_errors",
            "Errors answered, by code (GraphQL extensions.code, or HTTP_<status>).",
            (*where, "code"),
            registry=self.registry,
        )
        self._store_calls = Counter(
            "demobackend_store_calls",
            "Calls to the item store and the blob store (presigns not included).",
            (*where, "store"),
            registry=self.registry,
        )
        self._items_read = Counter(
            "demobackend_items_read",
            "Items read from the item store.",
            where,
            registry=self.registry,
        )
        self._presigns = Counter(
            "demobackend_blob_presigns",
            "Presigned blob URLs made.",
            where,
            registry=self.registry,
        )
        self._search = Histogram(
            "demobackend_search_duration_seconds",
            "Wall time of operations that select a search field.",
            ("operation",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def record(self, sample: RequestSample) -> None:
        where = (sample.route, sample.operation)
        figures = sample.figures
        self._requests.labels(*where, sample.operation_type, str(sample.status)).inc()
        self._latency.labels(*where).observe(sample.latency_ms / 1000)
        for code in sample.error_codes:
            self._errors.labels(*where, code).inc()
        self._store_calls.labels(*where, "items").inc(figures.item_calls)
        self._store_calls.labels(*where, "blobs").inc(figures.blob_calls)
        self._items_read.labels(*where).inc(figures.items_read)
        self._presigns.labels(*where).inc(figures.blob_presigns)
        if figures.search_ms is not None:
            self._search.labels(sample.operation).observe(figures.search_ms / 1000)

    async def endpoint(self, request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class EmfRecorder:
    """CloudWatch embedded metric format on stdout, for requests that came through Lambda:
    one document per request (dimensions service, route, operation) and one per distinct
    error code (plus the code). A fresh EphemeralMetrics per request: Powertools' Metrics
    shares its metric set between instances, which interleaved requests would mix."""

    def __init__(self, namespace: str, service: str) -> None:
        from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

        self._metrics_class = EphemeralMetrics
        self._namespace, self._service = namespace, service
        self._unit = MetricUnit

    def record(self, sample: RequestSample) -> None:
        if not sample.on_lambda:
            return
        unit, figures = self._unit, sample.figures
        metrics = self._dimensioned(sample)
        metrics.add_metric(name="Requests", unit=unit.Count, value=1)
        metrics.add_metric(name="Latency", unit=unit.Milliseconds, value=sample.latency_ms)
        metrics.add_metric(name="Errors", unit=unit.Count, value=len(sample.error_codes))
        metrics.add_metric(name="Faults", unit=unit.Count, value=int(sample.status >= 500))
        metrics.add_metric(name="StoreCalls", unit=unit.Count, value=figures.store_calls)
        metrics.add_metric(name="ItemsRead", unit=unit.Count, value=figures.items_read)
        metrics.add_metric(name="BlobPresigns", unit=unit.Count, value=figures.blob_presigns)
        if figures.search_ms is not None:
            metrics.add_metric(
                name="SearchLatency", unit=unit.Milliseconds, value=figures.search_ms
            )
        metrics.flush_metrics()
        for code in sorted(set(sample.error_codes)):
            by_code = self._dimensioned(sample)
            by_code.add_dimension(name="code", value=code)
            count = sample.error_codes.count(code)
            by_code.add_metric(name="ErrorsByCode", unit=unit.Count, value=count)
            by_code.flush_metrics()

    def _dimensioned(self, sample: RequestSample) -> EphemeralMetrics:
        metrics = self._metrics_class(namespace=self._namespace, service=self._service)
        metrics.add_dimension(name="route", value=sample.route)
        metrics.add_dimension(name="operation", value=sample.operation)
        return metrics
