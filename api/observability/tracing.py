"""Optional X-Ray tracing through Powertools' Tracer (setting TRACING, off by default).

Creating a ``Tracer`` imports the X-Ray SDK (~300 ms of cold start) even when
tracing is disabled, so nothing here is imported unless the setting is on. When on, the
Tracer patches boto3/botocore (every DynamoDB and S3 call becomes a subsegment) and the
middleware wraps each request in a ``## <route>`` subsegment annotated with the operation.
On Lambda the function needs ``Tracing: Active``; elsewhere Powertools disables itself.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer


class RequestTracer(Protocol):
    def span(self, name: str) -> AbstractAsyncContextManager[Any]: ...

    def annotate(self, span: Any, **annotations: str | int) -> None: ...


class PowertoolsRequestTracer:
    def __init__(self, service: str) -> None:
        from aws_lambda_powertools import Tracer

        self._tracer: Tracer = Tracer(service=service)

    def span(self, name: str) -> AbstractAsyncContextManager[Any]:
        span: AbstractAsyncContextManager[Any] = self._tracer.provider.in_subsegment_async(name)
        return span

    def annotate(self, span: Any, **annotations: str | int) -> None:
        for key, value in annotations.items():
            span.put_annotation(key=key, value=value)


def build_tracer(enabled: bool, service: str) -> RequestTracer | None:
    return PowertoolsRequestTracer(service) if enabled else None
