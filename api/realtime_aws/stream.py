"""The items table's DynamoDB Stream -> file events -> each subscriber, checked at delivery.

Per record: the committed change becomes file events (domain/files/stream.py); per event,
its subscribers are found by key, one Query per routing key (the file, each user in its
audience, admins: domain/realtime.py ``routes_of``), never by scanning connections; each
subscription runs through the schema for that event (execution.py), which decides what
this viewer may see *now*; the messages go out with PostToConnection.

Failure handling (the event source mapping has ReportBatchItemFailures): every read for an
event happens before its first post, so a store that fails fails the record before any
subscriber heard of the event, and the record is reported and retried without duplicates. The
batch stops at the first failed record: Lambda resumes from it, so later records keep
their order. A gone connection (GoneException) is forgotten with its subscriptions; any
other failed post loses that one message for that one connection (logged), rather than
re-sending the event to everyone else.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from api.realtime_aws.execution import run_subscription
from api.subscriptions import FORBIDDEN
from domain.errors import StoreUnavailableError
from domain.files.stream import events_of_change
from domain.realtime import ConnectionGoneError, StoredSubscription, routes_of

if TYPE_CHECKING:
    from api.realtime_aws.execution import Run
    from api.realtime_aws.runtime import Realtime
    from domain.events import FileEvent

logger = logging.getLogger("demobackend.realtime")

# Subscribers handled at once per event (reads, then posts).
CONCURRENCY = 16


@dataclass
class StreamFigures:
    records: int = 0
    events: int = 0
    lookups: int = 0  # subscriber Queries
    subscriptions: int = 0  # subscriptions run (one file read each)
    posts: int = 0
    gone: int = 0
    lost_posts: int = 0
    failed_records: list[str] = field(default_factory=list)

    def response(self) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": s} for s in self.failed_records]}


class StreamDelivery:
    def __init__(self, rt: Realtime) -> None:
        self.rt = rt

    async def process(self, records: list[Any]) -> StreamFigures:
        figures = StreamFigures()
        for record in records:
            figures.records += 1
            try:
                change = self.rt.decode_change(record)
            except Exception:
                logger.exception("realtime: a stream record could not be read")
                figures.failed_records.append(_sequence_of(record))
                break
            try:
                at = datetime.fromtimestamp(change.at or self.rt.clock(), UTC)
                for event in events_of_change(change.old, change.new, at):
                    figures.events += 1
                    await self.deliver(event, figures)
            except Exception:
                logger.exception("realtime: record %s not delivered; retried", change.sequence)
                figures.failed_records.append(change.sequence)
                break
        logger.info(
            "realtime stream: %d records, %d events, %d posts, %d gone, %d failed",
            figures.records,
            figures.events,
            figures.posts,
            figures.gone,
            len(figures.failed_records),
        )
        return figures

    async def deliver(self, event: FileEvent, figures: StreamFigures) -> None:
        subscriptions: dict[tuple[str, str], StoredSubscription] = {}
        for route in routes_of(event):
            figures.lookups += 1
            for found in await self.rt.registry.subscribers(route):
                subscriptions[(found.connection_id, found.subscription_id)] = found
        now = self.rt.clock()
        # Bounded concurrency: one subscriber's read or post never waits on another's.
        gate = asyncio.Semaphore(CONCURRENCY)

        async def plan(subscription: StoredSubscription) -> Run | None:
            expires = subscription.viewer.expires_at
            if expires is not None and expires <= now:
                return None  # its token expired: close, send nothing
            async with gate:
                return await run_subscription(
                    self.rt,
                    subscription.viewer,
                    f"stream-{event.file_id}-{event.version}",
                    subscription.query,
                    subscription.variables,
                    subscription.operation_name,
                    event,
                )

        chosen = list(subscriptions.values())
        figures.subscriptions += len(chosen)
        # Every read first: a store failing here fails the record before any post.
        runs = await asyncio.gather(*(plan(subscription) for subscription in chosen))

        async def send(subscription: StoredSubscription, run: Run | None) -> None:
            async with gate:
                await self._send(subscription, run, figures)

        await asyncio.gather(*(send(s, run) for s, run in zip(chosen, runs, strict=True)))

    async def _send(
        self, subscription: StoredSubscription, run: Run | None, figures: StreamFigures
    ) -> None:
        cid, sid = subscription.connection_id, subscription.subscription_id
        if run is None:
            await self.rt.gateway.close(cid, FORBIDDEN, "Token expired")
            await self.rt.registry.close(cid)
            return
        messages: list[dict[str, object]] = [
            {"id": sid, "type": "next", "payload": payload} for payload in run.payloads
        ]
        if run.errors is not None:
            messages.append({"id": sid, "type": "error", "payload": run.errors})
        elif run.ended:
            messages.append({"id": sid, "type": "complete"})
        try:
            for message in messages:
                figures.posts += 1
                await self.rt.gateway.send(cid, message)
        except ConnectionGoneError:
            figures.gone += 1
            await self.rt.registry.close(cid)
            return
        except StoreUnavailableError:
            figures.lost_posts += 1
            logger.warning("realtime: a message to %s was lost", cid)
        if run.ended:
            await self.rt.registry.remove_subscription(cid, sid)


def _sequence_of(record: Any) -> str:
    try:
        return str(record["dynamodb"]["SequenceNumber"])
    except (KeyError, TypeError):
        return ""
