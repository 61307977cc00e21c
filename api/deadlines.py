"""Where each request's deadline is set (domain/deadline.py holds it).

Locally every HTTP request gets REQUEST_TIMEOUT_SECONDS. On Lambda the handler first bounds
the whole invocation by its remaining time less a margin (so the answer, even a 503, is
sent before the runtime kills the function), and the per-request setting can only make
that shorter. Answers for a request out of time: api/unavailable.py.
"""

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from domain import deadline
from domain.deadline import deadline_in


class DeadlineMiddleware:
    def __init__(self, app: ASGIApp, *, timeout_seconds: float) -> None:
        self.app = app
        self._timeout = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = deadline.begin(self._timeout)
        try:
            await self.app(scope, receive, send)
        finally:
            deadline.end(token)


def lambda_invocation_deadline(context: Any, margin_seconds: float) -> AbstractContextManager[None]:
    """Bound what runs inside to the invocation's remaining time less ``margin_seconds``.
    Mangum runs the app as a task created inside, which inherits the deadline. The bound
    itself, not a generator around it: one context manager per invocation, not two."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_ms is None:  # invoked without a Lambda context (tests, scripts)
        return nullcontext()
    return deadline_in(max(0.0, remaining_ms() / 1000 - margin_seconds))
