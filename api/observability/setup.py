"""build_observability(settings): what build_app adds for logs, metrics and tracing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from api.observability.metrics import Recorder
    from api.observability.tracing import RequestTracer
    from api.settings import Settings

METRICS_PATH = "/metrics"


@dataclass
class Observability:
    logger: Logger
    recorders: list[Recorder]
    tracer: RequestTracer | None
    routes: list[BaseRoute] = field(default_factory=list)  # GET /metrics when enabled


def build_observability(settings: Settings) -> Observability:
    from api.observability.logs import SERVICE, configure_logging
    from api.observability.metrics import EmfRecorder, PrometheusRecorder
    from api.observability.tracing import build_tracer

    logger = configure_logging(settings.log_level)
    recorders: list[Recorder] = [EmfRecorder(settings.metrics_namespace, SERVICE)]
    routes: list[BaseRoute] = []
    if settings.metrics_endpoint_enabled:
        prometheus = PrometheusRecorder()
        recorders.append(prometheus)
        routes.append(Route(METRICS_PATH, prometheus.endpoint, methods=["GET"]))
    tracer = build_tracer(settings.tracing, SERVICE)
    return Observability(logger, recorders, tracer, routes)
