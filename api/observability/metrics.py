"""Request metrics: Prometheus text at ``GET /metrics`` (locally) and CloudWatch EMF
in the documents Powertools Metrics writes (on Lambda). Both receive the same ``RequestSample``.

Dimensions and labels are bounded: route templates (never raw paths), operation names only
for named operations matching GraphQL's name grammar and only the first
``MAX_OPERATION_NAMES`` distinct ones per process (the rest are "other", unnamed ones
"anonymous"), error codes likewise capped, and no user ids.
"""

from __future__ import annotations

import json
import re
import sys
import time
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from starlette.requests import Request
from starlette.responses import Response

from api.observability.environ import any_set

if TYPE_CHECKING:
    from resolvers.extensions.metrics import RequestFigures

MAX_OPERATION_NAMES = 50
MAX_ERROR_CODES = 30
ANONYMOUS = "anonymous"
OTHER = "other"
NOT_GRAPHQL = "none"
_ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,39}")

# What the stack's alarms watch (infra/template.yaml; tests/infra fails when the template
# names other metrics). Both are 0 or 1 per request, by operation and, in a directive of
# their own, by service alone: an alarm needs fixed dimensions, and operations are many.
# InternalErrors: the request failed on our side: HTTP 5xx (Mangum's 500 for an escaped
# exception included), or a GraphQL answer (HTTP 200) carrying INTERNAL_SERVER_ERROR, which
# Lambda's Errors and API Gateway's 5xx never see.
INTERNAL_ERRORS_METRIC = "InternalErrors"
# Unavailable: answered SERVICE_UNAVAILABLE (a dependency down, load shed) or HTTP 503.
UNAVAILABLE_METRIC = "Unavailable"
# BreakerOpen: the count of circuit-breaker transitions to open, dimensions (service,
# dependency). Emitted by api/observability/breakers.py when a breaker opens; the
# alarm on it (any 1) is a rollback alarm, so the name is fixed here for both sides.
BREAKER_OPEN_METRIC = "BreakerOpen"
INTERNAL_CODE = "INTERNAL_SERVER_ERROR"
UNAVAILABLE_CODE = "SERVICE_UNAVAILABLE"
# Never folded into OTHER by the code cap: alarms and dashboards key on them.
ALARMED_CODES = frozenset({INTERNAL_CODE, UNAVAILABLE_CODE})
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


class RequestSample(NamedTuple):
    """One request's labels and figures (a tuple: made once per request, ~8 field
    assignments through a frozen dataclass's ``object.__setattr__`` cost more)."""

    route: str  # a route template: "/graphql", "/blobs/*", "unmatched"
    operation: str  # bounded: a name, "anonymous", "other", or "none" (not GraphQL)
    operation_type: str  # "query", "mutation", "none"
    status: int
    latency_ms: float
    error_codes: tuple[str, ...]  # bounded
    figures: RequestFigures
    on_lambda: bool  # the request came through API Gateway and Mangum

    @property
    def internal_error(self) -> bool:
        unavailable = self.status == 503 or UNAVAILABLE_CODE in self.error_codes
        return INTERNAL_CODE in self.error_codes or (self.status >= 500 and not unavailable)

    @property
    def unavailable(self) -> bool:
        return self.status == 503 or UNAVAILABLE_CODE in self.error_codes


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
        if not figures.error_codes and status < 400:  # most requests
            return ()
        codes = list(figures.error_codes)
        if not codes and status >= 400:
            codes.append(f"HTTP_{status}")
        return tuple(
            code
            if code in ALARMED_CODES
            else self._codes.label(code)
            if _ERROR_CODE.fullmatch(code)
            else OTHER
            for code in codes
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
        self._children: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._request_children: dict[tuple[str, str, str, int], tuple[Any, ...]] = {}

    def record(self, sample: RequestSample) -> None:
        figures = sample.figures
        key = (sample.route, sample.operation, sample.operation_type, sample.status)
        children = self._request_children.get(key)
        if children is None:
            children = self._request_child(sample)
        requests, latency, item_calls, blob_calls, items_read, presigns = children
        requests.inc()
        latency.observe(sample.latency_ms / 1000)
        if sample.error_codes:
            where = (sample.route, sample.operation)
            for code in sample.error_codes:
                self._errors.labels(*where, code).inc()
        # Adding 0 changes no sample (the children exist from their first request on), and
        # most requests make no blob call and no presign.
        if figures.item_calls:
            item_calls.inc(figures.item_calls)
        if figures.blob_calls:
            blob_calls.inc(figures.blob_calls)
        if figures.items_read:
            items_read.inc(figures.items_read)
        if figures.blob_presigns:
            presigns.inc(figures.blob_presigns)
        if figures.search_ms is not None:
            self._search.labels(sample.operation).observe(figures.search_ms / 1000)

    # Label children cached per label tuple, all of a request's in one lookup. The labels
    # are already bounded (route templates, bounded operation names, operation types,
    # statuses), so the caches are bounded by the same product.
    def _children_of(self, route: str, operation: str) -> tuple[Any, ...]:
        where = (route, operation)
        children = self._children.get(where)
        if children is None:
            children = (
                self._latency.labels(*where),
                self._store_calls.labels(*where, "items"),
                self._store_calls.labels(*where, "blobs"),
                self._items_read.labels(*where),
                self._presigns.labels(*where),
            )
            self._children[where] = children
        return children

    def _request_child(self, sample: RequestSample) -> tuple[Any, ...]:
        key = (sample.route, sample.operation, sample.operation_type, sample.status)
        requests = self._requests.labels(
            sample.route, sample.operation, sample.operation_type, str(sample.status)
        )
        children = (requests, *self._children_of(sample.route, sample.operation))
        self._request_children[key] = children
        return children

    async def endpoint(self, request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class EmfRecorder:
    """CloudWatch embedded metric format on stdout, for requests that came through Lambda:
    one document per request (dimensions service, route, operation) and one per distinct
    error code (plus the code).

    The documents are the ones Powertools' ``EphemeralMetrics.flush_metrics`` prints (same
    keys, order and compact JSON; tests/functional/test_observability_lambda.py reads
    them), built directly: a fresh EphemeralMetrics per request (needed because Powertools'
    Metrics shares its metric set between instances, which interleaved requests would mix)
    cost more than the rest of the request's observability together. The metric names and
    units are fixed here, so Powertools' per-call validation has nothing to catch; its
    switches (POWERTOOLS_METRICS_DISABLED, POWERTOOLS_DEV) are honoured as it honours them.
    """

    def __init__(self, namespace: str, service: str) -> None:
        from aws_lambda_powertools.metrics.functions import is_metrics_disabled

        self._namespace, self._service = namespace, service
        self._metrics_disabled = is_metrics_disabled
        self._switches_set = any_set(_METRICS_DISABLED, _POWERTOOLS_DEV)
        self._directives = {
            search: self._directive(("route", "operation", "service"), _metrics(search))
            for search in (False, True)
        }
        self._by_code_directive = self._directive(
            ("route", "operation", "code", "service"), (("ErrorsByCode", "Count"),)
        )
        self._by_service = self._directive(("service",), _ALARMED)[0]
        self._heads: dict[tuple[str, str, bool], str] = {}

    def _directive(
        self, dimensions: tuple[str, ...], metrics: tuple[tuple[str, str], ...]
    ) -> list[dict[str, Any]]:
        return [
            {
                "Namespace": self._namespace,
                "Dimensions": [list(dimensions)],
                "Metrics": [{"Name": name, "Unit": unit} for name, unit in metrics],
            }
        ]

    def record(self, sample: RequestSample) -> None:
        if not sample.on_lambda:
            return
        if self._switches_set() and self._metrics_disabled():
            return
        figures = sample.figures
        search_ms = figures.search_ms
        key = (sample.route, sample.operation, search_ms is not None)
        head = self._heads.get(key)
        if head is None:
            head = self._head(*key)
        timestamp = str(int(time.time() * 1000))
        # The document json.dumps(..., separators=(",", ":")) printed, key for key: the
        # directives and dimension values are fixed per (route, operation), so only the
        # timestamp and the figures are formatted per request (floats as json does).
        status = sample.status
        codes = sample.error_codes
        if not codes and status < 500:
            # Most requests: no error, fault, internal error or unavailability, so the
            # four figures between Latency and StoreCalls are one constant text.
            text = (
                f"{_TIMESTAMP}{timestamp}{head}{float(sample.latency_ms)!r}{_HEALTHY}"
                f"{float(figures.store_calls)!r}{_ITEMS_READ}{float(figures.items_read)!r}"
                f"{_PRESIGNS}{float(figures.blob_presigns)!r}"
            )
            if search_ms is not None:
                text += f"{_SEARCH_LATENCY}{float(search_ms)!r}"
            sys.stdout.write(text + "]}\n")  # one write: what print() wrote, in two
            return
        parts = [
            _TIMESTAMP,
            timestamp,
            head,
            repr(float(sample.latency_ms)),
            _ERRORS,
            repr(float(len(codes))),
            _FAULTS,
            _BOOL[status >= 500],
            _INTERNAL,
            _BOOL[sample.internal_error],
            _UNAVAILABLE,
            _BOOL[sample.unavailable],
            _STORE_CALLS,
            repr(float(figures.store_calls)),
            _ITEMS_READ,
            repr(float(figures.items_read)),
            _PRESIGNS,
            repr(float(figures.blob_presigns)),
        ]
        if search_ms is not None:
            parts += (_SEARCH_LATENCY, repr(float(search_ms)))
        parts.append("]}")
        for code in sorted(set(codes)):
            by_code = {
                "_aws": {"Timestamp": int(timestamp), "CloudWatchMetrics": self._by_code_directive},
                "route": sample.route,
                "operation": sample.operation,
                "code": code,
                "service": self._service,
                "ErrorsByCode": [float(codes.count(code))],
            }
            parts += ("\n", json.dumps(by_code, separators=(",", ":")))
        parts.append("\n")
        sys.stdout.write("".join(parts))  # one write: what print() wrote, in two

    def _head(self, route: str, operation: str, searched: bool) -> str:
        """From the end of the timestamp to the first figure (Latency's), as json.dumps
        writes it. Bounded: routes and operations are bounded labels."""
        directives = [*self._directives[searched], self._by_service]
        head = (
            ',"CloudWatchMetrics":'
            + json.dumps(directives, separators=(",", ":"))
            + '},"route":'
            + json.dumps(route)
            + ',"operation":'
            + json.dumps(operation)
            + ',"service":'
            + json.dumps(self._service)
            + ',"Requests":[1.0],"Latency":['
        )
        self._heads[(route, operation, searched)] = head
        return head


_METRICS_DISABLED = "POWERTOOLS_METRICS_DISABLED"
_POWERTOOLS_DEV = "POWERTOOLS_DEV"
_BOOL = {False: "0.0", True: "1.0"}  # json.dumps of float(flag); floats as repr(), as json
_TIMESTAMP = '{"_aws":{"Timestamp":'
_ERRORS = '],"Errors":['
_FAULTS = '],"Faults":['
_INTERNAL = f'],"{INTERNAL_ERRORS_METRIC}":['
_UNAVAILABLE = f'],"{UNAVAILABLE_METRIC}":['
_STORE_CALLS = '],"StoreCalls":['
_ITEMS_READ = '],"ItemsRead":['
_PRESIGNS = '],"BlobPresigns":['
_SEARCH_LATENCY = '],"SearchLatency":['
_HEALTHY = f"{_ERRORS}0.0{_FAULTS}0.0{_INTERNAL}0.0{_UNAVAILABLE}0.0{_STORE_CALLS}"
# By service alone, for the alarms: requests (the denominator) and the two failure counts.
_ALARMED = (
    ("Requests", "Count"),
    (INTERNAL_ERRORS_METRIC, "Count"),
    (UNAVAILABLE_METRIC, "Count"),
)


def _metrics(search: bool) -> tuple[tuple[str, str], ...]:
    metrics = (
        ("Requests", "Count"),
        ("Latency", "Milliseconds"),
        ("Errors", "Count"),
        ("Faults", "Count"),
        *_ALARMED[1:],
        ("StoreCalls", "Count"),
        ("ItemsRead", "Count"),
        ("BlobPresigns", "Count"),
    )
    return (*metrics, ("SearchLatency", "Milliseconds")) if search else metrics
