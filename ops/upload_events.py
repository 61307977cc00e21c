"""Replaying the S3 upload notifications Lambda gave up on.

The function completes uploads from S3 ``ObjectCreated`` notifications, which Lambda
invokes asynchronously: after its retries (EventInvokeConfig in infra/template.yaml) a
failed event goes to the on-failure destination, an SQS queue, as an invocation record
whose ``requestPayload`` is the original event. ``demobackend replay-upload-events``
reads that queue and runs each event through the same completion code as the handler.

A message is deleted only once every record in it completed or can never complete (not
ours, no such file: the handler's "ignored"); a record that failed again leaves its
message in the queue, visible again after the visibility timeout, for the next replay.
Completing is idempotent, so a message replayed twice does no harm. A message that is not
an invocation record of an S3 event is left alone and reported: it is not ours to drop.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef


class RecordsOutcome(Protocol):
    """What completing an event's records came to (the handler's StoreEventSummary)."""

    completed: int
    ignored: int
    failed: int


# Both injected by the caller (api/cli.py): ops never imports the API layer.
CompleteRecords = Callable[[list[Any]], Awaitable[RecordsOutcome]]
IsUploadEvent = Callable[[Any], bool]

RECEIVE_BATCH = 10  # SQS's largest
# Long enough to complete ten events' uploads; a crashed replay's messages come back then.
VISIBILITY_TIMEOUT_SECONDS = 300


class ReplayError(Exception):
    """The queue could not be read or written; nothing further was taken from it."""


@dataclass
class ReplaySummary:
    messages: int = 0  # received
    replayed: int = 0  # completed (or beyond help) and deleted
    retry_later: int = 0  # a record failed again: left in the queue
    unrecognised: int = 0  # not an invocation record of an S3 event: left in the queue
    completed: int = 0  # records whose file is READY
    ignored: int = 0  # records that can never complete

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


def s3_event_of(body: str, is_upload_event: IsUploadEvent) -> dict[str, Any] | None:
    """The original S3 event inside an on-failure destination's invocation record."""
    try:
        record = json.loads(body)
    except ValueError:
        return None
    payload = record.get("requestPayload") if isinstance(record, dict) else None
    return payload if isinstance(payload, dict) and is_upload_event(payload) else None


async def replay_upload_events(
    sqs: SQSClient,
    queue_url: str,
    complete: CompleteRecords,
    is_upload_event: IsUploadEvent,
    *,
    max_messages: int = 1000,
) -> ReplaySummary:
    """Replay up to ``max_messages`` messages (each received once per run)."""
    from botocore.exceptions import BotoCoreError, ClientError

    summary = ReplaySummary()
    seen: set[str] = set()
    try:
        while summary.messages < max_messages:
            answer = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(RECEIVE_BATCH, max_messages - summary.messages),
                VisibilityTimeout=VISIBILITY_TIMEOUT_SECONDS,
                WaitTimeSeconds=1,
            )
            messages = [m for m in answer.get("Messages", []) if m["MessageId"] not in seen]
            if not messages:
                break
            for message in messages:
                seen.add(message["MessageId"])
                summary.messages += 1
                if await _replay_one(message, complete, is_upload_event, summary):
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    except (BotoCoreError, ClientError) as error:
        # The class name only: botocore messages may carry account ids and queue names.
        what = type(error).__name__
        raise ReplayError(f"the queue could not be read or written ({what})") from None
    return summary


async def _replay_one(
    message: MessageTypeDef,
    complete: CompleteRecords,
    is_upload_event: IsUploadEvent,
    summary: ReplaySummary,
) -> bool:
    """True when the message may be deleted."""
    event = s3_event_of(message.get("Body", ""), is_upload_event)
    if event is None:
        summary.unrecognised += 1
        return False
    result = await complete(event["Records"])
    summary.completed += result.completed
    summary.ignored += result.ignored
    if result.failed:
        summary.retry_later += 1
        return False
    summary.replayed += 1
    return True
