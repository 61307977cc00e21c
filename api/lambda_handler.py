"""AWS Lambda entry point: Mangum over the same app that uvicorn serves locally, plus the
S3 ``ObjectCreated`` notifications that complete uploads.

Import loads the app's code (schema, resolvers); settings and the adapters the settings
choose are loaded when the handler is built, on the first invocation, and then reused for
the container's life (clients, JWKS cache). bench/cold_import.py measures both steps.

One function serves two kinds of event. An S3 event notification (``Records`` whose
``eventSource`` is ``aws:s3``) never reaches Mangum: each ``ObjectCreated:*`` record's key
is handed to the same domain code as ``completeUpload`` (FileService
.complete_upload_from_store_event), on the same deps and the same event loop as the HTTP
requests. Everything else goes to Mangum, which answers API Gateway events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from mangum import Mangum

from api import snapstart
from api.app import build_app
from api.aws_clients import created_clients
from api.bootstrap import Deps, build_deps
from domain.errors import ConflictError, DomainError, StoreUnavailableError

if TYPE_CHECKING:
    from api.settings import Settings
    from resolvers.context import Services

logger = logging.getLogger(__name__)

S3_EVENT_SOURCE = "aws:s3"
OBJECT_CREATED_PREFIX = "ObjectCreated:"
_RETRYABLE = (StoreUnavailableError, ConflictError)


class StoreEventError(RuntimeError):
    """Some records could not be processed for a reason a retry may cure (the store was
    unavailable, the item kept changing). Raised after every record was tried, so Lambda's
    asynchronous retry re-delivers the event; completing is idempotent, so records that
    did succeed are harmless the second time."""


@dataclass
class StoreEventSummary:
    records: int = 0
    completed: int = 0  # the file is READY (now, or already was)
    ignored: int = 0  # not ours, not ObjectCreated, malformed, or bytes not as declared
    failed: int = 0  # worth retrying

    def as_dict(self) -> dict[str, int]:
        return {
            "records": self.records,
            "completed": self.completed,
            "ignored": self.ignored,
            "failed": self.failed,
        }


class LambdaHandler:
    """What the Lambda runtime calls: ``handler(event, context) -> dict``. Built once per
    container; ``services`` are the deps' domain services, shared by both event kinds."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        # lifespan off: a Lambda container is frozen, not shut down; nothing waits on it.
        self.http = Mangum(build_app(deps.settings, deps), lifespan="off")

    @property
    def services(self) -> Services:
        return self.deps.services

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        if is_s3_notification(event):
            return self.handle_store_event(event)
        response: dict[str, Any] = self.http(event, context)
        return response

    def handle_store_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        # Mangum runs every request on the thread's current loop; store events use the
        # same one, so nothing the deps hold ever meets a second loop.
        summary = _event_loop().run_until_complete(self._complete_uploads(event["Records"]))
        logger.info("s3 event: %s", summary.as_dict())
        if summary.failed:
            raise StoreEventError(
                f"{summary.failed} of {summary.records} S3 records failed; retry the event"
            )
        return summary.as_dict()

    async def _complete_uploads(self, records: list[Any]) -> StoreEventSummary:
        summary = StoreEventSummary(records=len(records))
        bucket = self.deps.settings.bucket
        for index, record in enumerate(records):
            key = _created_object_key(record, bucket, index)
            if key is None:
                summary.ignored += 1
                continue
            try:
                completed = await self.services.files.complete_upload_from_store_event(key)
            except _RETRYABLE as exc:  # the store was unavailable; gave up after conflicts
                logger.warning("s3 event: record %d not processed: %s", index, exc)
                summary.failed += 1
                continue
            except DomainError as exc:  # a retry would meet the same answer
                logger.info("s3 event: record %d ignored: %s", index, exc)
                summary.ignored += 1
                continue
            except Exception:
                logger.exception("s3 event: record %d failed", index)
                summary.failed += 1
                continue
            if completed is None:
                summary.ignored += 1
            else:
                summary.completed += 1
        return summary


def is_s3_notification(event: Any) -> bool:
    """An S3 event notification: a ``Records`` list with at least one S3 record (one
    malformed record must not send the whole batch to the HTTP adapter)."""
    if not isinstance(event, Mapping):
        return False
    records = event.get("Records")
    return isinstance(records, list) and any(
        isinstance(record, Mapping) and record.get("eventSource") == S3_EVENT_SOURCE
        for record in records
    )


def _created_object_key(record: Any, bucket: str | None, index: int) -> str | None:
    """The decoded object key of an ``ObjectCreated:*`` record of our bucket, else None."""
    if not isinstance(record, Mapping) or record.get("eventSource") != S3_EVENT_SOURCE:
        logger.info("s3 event: record %d is not an S3 record; ignored", index)
        return None
    event_name = record.get("eventName")
    if not isinstance(event_name, str) or not event_name.startswith(OBJECT_CREATED_PREFIX):
        logger.info("s3 event: record %d is %r, not ObjectCreated; ignored", index, event_name)
        return None
    s3 = record.get("s3")
    bucket_part = s3.get("bucket") if isinstance(s3, Mapping) else None
    object_part = s3.get("object") if isinstance(s3, Mapping) else None
    raw_key = object_part.get("key") if isinstance(object_part, Mapping) else None
    if not isinstance(raw_key, str) or not raw_key:
        logger.info("s3 event: record %d has no object key; ignored", index)
        return None
    record_bucket = bucket_part.get("name") if isinstance(bucket_part, Mapping) else None
    if bucket is not None and record_bucket != bucket:
        logger.info("s3 event: record %d is for another bucket; ignored", index)
        return None
    # S3 URL-encodes keys in notifications, with "+" for a space.
    return unquote_plus(raw_key)


def _event_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_event_loop()
    except RuntimeError:  # no current loop in this thread: make one, as Mangum does
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        return loop


def build_handler(settings: Settings) -> LambdaHandler:
    return LambdaHandler(build_deps(settings))


_handler: LambdaHandler | None = None


def _get_handler() -> LambdaHandler:
    global _handler
    if _handler is None:
        from api.settings import load_settings

        _handler = build_handler(load_settings())
    return _handler


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _get_handler()(event, context)


# SnapStart (infra/template.yaml): build and exercise everything before the snapshot; after
# each restore reseed `random` and drop pooled connections. A no-op outside Lambda.
snapstart.register(prepare=lambda: snapstart.warm_up(handler), connections=created_clients)
