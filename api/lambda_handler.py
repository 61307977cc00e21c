"""AWS Lambda entry point: Mangum over the same app that uvicorn serves locally, plus the
S3 ``ObjectCreated`` notifications that complete uploads.

Import loads the app's code (schema, resolvers); settings and the adapters the settings
choose are loaded when the handler is built, on the first invocation, and then reused for
the container's life (clients, JWKS cache). bench/cold_import.py measures both steps.

One function serves two kinds of event. An S3 event notification (``Records`` whose
``eventSource`` is ``aws:s3``) never reaches Mangum: each ``ObjectCreated:*`` record's key
is handed to the same domain code as ``completeUpload`` (FileService
.complete_upload_from_store_event), on the same deps and the same event loop as the HTTP
requests. A restore drill event (``{"demobackend": "drill"}``: the Input of the EventBridge
rule in infra/template.yaml, or a manual ``aws lambda invoke``) runs ops.backup's drill:
back up everything, restore it into a scratch SQLite + folder under /tmp, compare, and log
the report as one JSON line (also CloudWatch EMF metrics DrillOk and DrillRestoreSeconds);
a difference or a crash fails the invocation. A data export event (``{"demobackend":
"export", "userId": ..., "exportId": ...}``: the asynchronous self-invocation that
adapters/exports/lambda_scheduler.py makes for a large exportMyData) builds that export.
API Gateway events go to Mangum, except a POST to /graphql, which api/lambda_graphql.py
answers through the same middlewares and view without Mangum's cycle and Starlette's router.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The import and the first build make objects that live as long as the container:
    the frameworks' and our modules, the schema's types, boto3's clients and service
    models, the settings, the app. The cyclic collector's passes over them while they
    were being made were ~5% of the import's CPU and ~10% of the build's on the AWS path
    (bench/cold_import.py): full passes walk everything made so far, again and again. So
    it is paused while they are made, and what was made is then frozen (moved out of the
    collector's generations), so that no later collection walks it again. Once per
    process for each: the cyclic garbage they left stays (a bounded, one-off amount)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


with _collector_paused():
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
    from api.deadlines import lambda_invocation_deadline
    from domain.errors import ConflictError, DomainError, StoreUnavailableError

if TYPE_CHECKING:
    from api.lambda_graphql import LambdaGraphQL
    from api.settings import Settings
    from resolvers.services import Services

logger = logging.getLogger(__name__)

S3_EVENT_SOURCE = "aws:s3"
OBJECT_CREATED_PREFIX = "ObjectCreated:"
_RETRYABLE = (StoreUnavailableError, ConflictError)
DRILL_EVENT_KEY = "demobackend"
DRILL_EVENT_VALUE = "drill"
DRILL_SERVICE = "drill"
DRILL_DIR_PREFIX = "demobackend-drill-"


class StoreEventError(RuntimeError):
    """Some records could not be processed for a reason a retry may cure (the store was
    unavailable, the item kept changing). Raised after every record was tried, so Lambda's
    asynchronous retry re-delivers the event; completing is idempotent, so records that
    did succeed are harmless the second time."""


class DrillFailedError(RuntimeError):
    """The restore drill found a difference, or could not finish. Raised so that Lambda
    records a failed invocation (the drill function's Errors alarm); the report was logged
    first."""


@dataclass
class StoreEventSummary:
    """What one batch of S3 notifications came to, record by record."""

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


def _alarm_on_breakers(deps: Deps) -> None:
    """On Lambda a breaker opening prints an EMF metric (the BreakerOpenAlarm's)."""
    from api.observability.breakers import EmfBreakerListener
    from api.observability.logs import SERVICE

    listener = EmfBreakerListener(deps.settings.metrics_namespace, SERVICE)
    for breaker in deps.breakers.values():
        breaker.add_listener(listener)


class LambdaHandler:
    """What the Lambda runtime calls: ``handler(event, context) -> dict``. Built once per
    container; ``services`` are the deps' domain services, shared by both event kinds."""

    def __init__(self, deps: Deps, *, fast_path: bool = True) -> None:
        self.deps = deps
        self._targeted: str | None = None  # the function ARN the export scheduler invokes
        _alarm_on_breakers(deps)
        app = build_app(deps.settings, deps)
        # lifespan off: a Lambda container is frozen, not shut down; nothing waits on it.
        self.http = Mangum(app, lifespan="off")
        # POST /graphql without Mangum's cycle, Starlette's router and Strawberry's run;
        # off only to compare the two (tests/functional/test_lambda_fast_path.py).
        self.fast: LambdaGraphQL | None = None
        if fast_path:
            from api.lambda_graphql import LambdaGraphQL

            self.fast = LambdaGraphQL(app, self.http.config)

    @property
    def services(self) -> Services:
        return self.deps.services

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        self._target_self(context)
        if is_s3_notification(event):
            return self.handle_store_event(event)
        if is_drill_event(event):
            return self.handle_drill(context)
        if is_export_event(event):
            return self.handle_export(event)
        # The request answers (503 at worst) before Lambda's own timeout could cut it off.
        settings = self.deps.settings
        if not settings.resilience:
            return self._answer_http(event, context)
        with lambda_invocation_deadline(context, settings.lambda_deadline_margin_seconds):
            return self._answer_http(event, context)

    def _answer_http(self, event: Any, context: Any) -> dict[str, Any]:
        if self.fast is not None:
            answer = self.fast(event, context)
            if answer is not None:
                return answer
        response: dict[str, Any] = self.http(event, context)
        return response

    def _target_self(self, context: Any) -> None:
        arn = getattr(context, "invoked_function_arn", None)
        if not isinstance(arn, str) or arn == self._targeted:
            return  # a warm container's invocations name the same function: done once
        from adapters.exports.lambda_scheduler import LambdaExportScheduler

        scheduler = self.deps.export_scheduler
        if isinstance(scheduler, LambdaExportScheduler):
            scheduler.target(arn)
        self._targeted = arn

    def handle_export(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Build the export the event names. A crash fails the invocation, which Lambda
        retries; a build that finds its export no longer BUILDING does nothing."""
        accounts = self.services.accounts
        if accounts is None:
            raise RuntimeError("data export event on a deployment without accounts")
        build = accounts.exports.build(str(event["userId"]), str(event["exportId"]))
        outcome = _event_loop().run_until_complete(build)
        summary = {"export": "skipped" if outcome is None else outcome.status}
        logger.info("data export event: %s", summary)
        return summary

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

    def handle_drill(self, context: Any) -> dict[str, Any]:
        """Back up, restore into scratch under /tmp, compare; the report as one JSON line.
        Limits in Lambda: /tmp (EphemeralStorage, at most 10 GB) must hold the backup and
        the scratch copy, and the whole drill must end within 15 minutes; beyond that the
        drill runs from CI or an ops host (infra/README.md, "How drills run")."""
        import shutil
        import tempfile
        from pathlib import Path

        # Imported here only: the HTTP path's cold start never pays for the backup code.
        from ops.backup.drill import run_drill

        root = Path(tempfile.gettempdir())
        where = {"tmp_free_bytes": shutil.disk_usage(root).free}
        key = self.deps.settings.backup_encryption_key
        try:
            # A fresh directory removed afterwards: /tmp outlives the invocation.
            with tempfile.TemporaryDirectory(prefix=DRILL_DIR_PREFIX, dir=root) as workdir:
                drill = run_drill(
                    self.deps.items,
                    self.deps.blobs,
                    workdir=Path(workdir),
                    # The drill also proves the key (64 hex characters) opens backups.
                    encryption_key=bytes.fromhex(key.get_secret_value()) if key else None,
                    source=self.deps.settings.backend,
                )
                report = _event_loop().run_until_complete(drill)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            failed = {"ok": False, "error": error, **where, **_remaining_time(context)}
            _log_drill(self.deps.settings.metrics_namespace, failed)
            raise DrillFailedError(f"drill did not finish: {error}") from exc
        summary = report.as_dict()
        _log_drill(
            self.deps.settings.metrics_namespace,
            {**summary, **where, **_remaining_time(context)},
        )
        if not report.ok:
            raise DrillFailedError(
                f"drill found {len(report.differences)} difference(s), first: "
                f"{report.differences[0] if report.differences else 'none listed'}"
            )
        return summary

    async def _complete_uploads(self, records: list[Any]) -> StoreEventSummary:
        return await complete_uploads(self.services, self.deps.settings.bucket, records)


async def complete_uploads(
    services: Services, bucket: str | None, records: list[Any]
) -> StoreEventSummary:
    """Complete the uploads an S3 notification's records name: the handler's path, and
    ``demobackend replay-upload-events`` for events Lambda gave up on."""
    summary = StoreEventSummary(records=len(records))
    for index, record in enumerate(records):
        key = _created_object_key(record, bucket, index)
        if key is None:
            summary.ignored += 1
            continue
        try:
            completed = await services.files.complete_upload_from_store_event(key)
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


def is_drill_event(event: Any) -> bool:
    """The restore drill's marker: ``{"demobackend": "drill"}`` (what the schedule sends).
    API Gateway and S3 events never carry this top-level key."""
    return isinstance(event, Mapping) and event.get(DRILL_EVENT_KEY) == DRILL_EVENT_VALUE


def is_export_event(event: Any) -> bool:
    """A data export build: the scheduler's marker, with both ids as strings."""
    # The ids first: an HTTP event has neither, and is answered without the import.
    if not (
        isinstance(event, Mapping)
        and isinstance(event.get("userId"), str)
        and isinstance(event.get("exportId"), str)
    ):
        return False
    from adapters.exports.lambda_scheduler import EXPORT_EVENT_KEY, EXPORT_EVENT_VALUE

    return event.get(EXPORT_EVENT_KEY) == EXPORT_EVENT_VALUE


def _log_drill(namespace: str, fields: Mapping[str, Any]) -> None:
    """One JSON line on stdout: the drill's report, and CloudWatch EMF metrics DrillOk
    (1/0) and, when the drill finished, DrillRestoreSeconds (the measured RTO) and
    DrillBackupSeconds, in the function's metrics namespace, dimension service=drill."""
    import json
    import time

    metrics: dict[str, tuple[float, str]] = {"DrillOk": (float(bool(fields.get("ok"))), "Count")}
    for name, field in (
        ("DrillRestoreSeconds", "restore_seconds"),
        ("DrillBackupSeconds", "backup_seconds"),
    ):
        value = fields.get(field)
        if isinstance(value, int | float):
            metrics[name] = (float(value), "Seconds")
    directive = {
        "Namespace": namespace,
        "Dimensions": [["service"]],
        "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()],
    }
    document: dict[str, Any] = {
        "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [directive]},
        "service": DRILL_SERVICE,
        "event": "drill",
        **{name: value for name, (value, _) in metrics.items()},
        "drill": dict(fields),
    }
    print(json.dumps(document, separators=(",", ":"), default=str), flush=True)


def _remaining_time(context: Any) -> dict[str, int]:
    """How much of the 15-minute limit the drill left: a shrinking figure is the warning
    to move the drill to CI before it times out."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return {"lambda_remaining_ms": int(remaining())} if callable(remaining) else {}


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


def get_handler() -> LambdaHandler:
    """The container's handler: settings read and everything built on the first call
    (the cold start's first build), then reused."""
    global _handler
    if _handler is None:
        from api.settings import load_settings

        with _collector_paused():
            _handler = build_handler(load_settings())
    return _handler


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return get_handler()(event, context)


# SnapStart (infra/template.yaml): build and exercise everything before the snapshot; after
# each restore reseed `random` and drop pooled connections. A no-op outside Lambda.
snapstart.register(prepare=lambda: snapstart.warm_up(handler), connections=created_clients)
