"""build_observability(settings): what build_app adds for logs, metrics and tracing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aws_lambda_powertools import Logger

    from adapters.resilience.breaker import CircuitBreaker
    from api.observability.metrics import Recorder
    from api.observability.tracing import RequestTracer
    from api.settings import Settings

METRICS_PATH = "/metrics"


@dataclass
class Observability:
    """What the app records with: the logger, metric recorders, tracer and their routes."""

    logger: Logger
    recorders: list[Recorder]
    tracer: RequestTracer | None
    routes: list[BaseRoute] = field(default_factory=list)  # GET /metrics when enabled


def build_observability(
    settings: Settings, breakers: Mapping[str, CircuitBreaker] | None = None
) -> Observability:
    from api.observability.logs import SERVICE, configure_logging
    from api.observability.metrics import EmfRecorder, PrometheusRecorder
    from api.observability.tracing import build_tracer

    logger = configure_logging(settings.log_level)
    recorders: list[Recorder] = [EmfRecorder(settings.metrics_namespace, SERVICE)]
    routes: list[BaseRoute] = []
    if settings.metrics_endpoint_enabled:
        prometheus = PrometheusRecorder()
        if breakers:
            from api.observability.breakers import BreakerCollector

            prometheus.registry.register(BreakerCollector(breakers))
        recorders.append(prometheus)
        routes.append(Route(METRICS_PATH, prometheus.endpoint, methods=["GET"]))
    tracer = build_tracer(settings.tracing, SERVICE)
    return Observability(logger, recorders, tracer, routes)
