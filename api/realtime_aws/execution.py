"""One stored subscription run through the schema, for one event or for none.

The subscription's own document runs as it would on the local server, against a source
that holds just this event: the resolver (resolvers/files/subscriptions.py) reads the file
through fresh loaders, decides delivery with domain/access.py and resolves ``File``; this
module only carries the outcome to the protocol's messages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError

from domain.errors import StoreUnavailableError
from resolvers.context import Context
from resolvers.errors import translate_error

if TYPE_CHECKING:
    from api.realtime_aws.runtime import Realtime
    from domain.events import FileEvent, FileEventInterest
    from domain.models import Principal


class OneEventSource:
    """A FileEventSource holding at most one event. It records the interest the resolver
    subscribed with (its routing key) and whether the resolver asked for more after the
    event: one that did not has ended its subscription (a file no longer readable)."""

    def __init__(self, event: FileEvent | None) -> None:
        self._event = event
        self.interest: FileEventInterest | None = None
        self.wanted_more = False

    @asynccontextmanager
    async def subscribe(
        self, interest: FileEventInterest
    ) -> AsyncIterator[AsyncIterator[FileEvent]]:
        self.interest = interest
        yield self._events()

    async def _events(self) -> AsyncIterator[FileEvent]:
        if self._event is not None:
            yield self._event
        self.wanted_more = True


@dataclass
class Run:
    payloads: list[dict[str, Any]] = field(default_factory=list)  # each a `next` payload
    errors: list[Any] | None = None  # the `error` message's payload (formatted errors)
    source: OneEventSource | None = None

    @property
    def ended(self) -> bool:
        """The subscription is over: refused, or its resolver returned."""
        return self.errors is not None or self.source is None or not self.source.wanted_more


async def run_subscription(
    rt: Realtime,
    viewer: Principal,
    request_id: str,
    query: str,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    event: FileEvent | None,
) -> Run:
    """Raises StoreUnavailableError when a store failed (the caller retries), never for
    what the client asked."""
    source = OneEventSource(event)
    services = dataclasses.replace(rt.services, file_events=source)
    context = Context(
        request_id=request_id, services=services, principal=viewer, resumed=event is not None
    )
    context.base_url = rt.services.public_url or ""
    stream = await rt.schema.subscribe(
        query, variable_values=variables, context_value=context, operation_name=operation_name
    )
    run = Run(source=source)
    async for result in stream:
        errors = list(getattr(result, "errors", None) or [])
        for error in errors:
            if isinstance(error.original_error, StoreUnavailableError):
                raise error.original_error
        formatted = [
            translate_error(error, request_id, hide_suggestions=rt.hide_suggestions).formatted
            for error in errors
        ]
        data = getattr(result, "data", None)
        if data is None and formatted:
            run.errors = formatted
            break
        payload: dict[str, Any] = {"data": data}
        if formatted:
            payload["errors"] = formatted
        run.payloads.append(payload)
    if run.errors is None and source.interest is None:
        # Nothing subscribed: not a fileEvents document the schema can serve.
        run.errors = [GraphQLError("Nothing to subscribe to").formatted]
    return run
