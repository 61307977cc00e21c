"""Circuit breaker metrics: a Prometheus collector reading each breaker's state at scrape
time (locally), and a CloudWatch EMF document each time a breaker opens (on Lambda), which
the BreakerOpenAlarm in infra/template.yaml watches. The log line per state change is the
breaker's own (adapters/resilience/breaker.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from api.observability.metrics import BREAKER_OPEN_METRIC

if TYPE_CHECKING:
    from adapters.resilience.breaker import CircuitBreaker, State

STATE_VALUES: Mapping[str, float] = {"closed": 0.0, "half_open": 1.0, "open": 2.0}


class BreakerCollector:
    """Registered on the app's Prometheus registry; nothing is counted on the call path."""

    def __init__(self, breakers: Mapping[str, CircuitBreaker]) -> None:
        self._breakers = dict(breakers)

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        state = GaugeMetricFamily(
            "demobackend_breaker_state",
            "Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open.",
            labels=("dependency",),
        )
        opened = CounterMetricFamily(
            "demobackend_breaker_opened",
            "Times a dependency's circuit breaker opened.",
            labels=("dependency",),
        )
        refused = CounterMetricFamily(
            "demobackend_breaker_refused",
            "Calls failed fast (SERVICE_UNAVAILABLE) because a breaker was open.",
            labels=("dependency",),
        )
        for name, breaker in self._breakers.items():
            state.add_metric((name,), STATE_VALUES[breaker.state])
            opened.add_metric((name,), float(breaker.opened))
            refused.add_metric((name,), float(breaker.refused))
        yield from (state, opened, refused)


class EmfBreakerListener:
    """Prints one EMF document when a breaker opens: metric BreakerOpen, by service and
    by (service, dependency)."""

    def __init__(self, namespace: str, service: str) -> None:
        self._namespace = namespace
        self._service = service

    def __call__(self, name: str, old: State, new: State) -> None:
        if new != "open":
            return
        document = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self._namespace,
                        "Dimensions": [["service"], ["service", "dependency"]],
                        "Metrics": [{"Name": BREAKER_OPEN_METRIC, "Unit": "Count"}],
                    }
                ],
            },
            "service": self._service,
            "dependency": name,
            BREAKER_OPEN_METRIC: [1.0],
        }
        print(json.dumps(document, separators=(",", ":")))
