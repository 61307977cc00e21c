"""Where DynamoDB calls leave the event loop, where botocore errors become domain errors, and
the bounded retry (capped exponential backoff with full jitter) every call goes through.

This is the ONLY retry layer for DynamoDB: the client is built with botocore's retries off
(api/aws_clients.py), because only here is the request's deadline known, so no retry
starts that cannot finish, and the process-wide RetryBudget caps retries as a share of
calls. Every call is safe to repeat: reads are, and writes are transactions carrying a
ClientRequestToken, which makes a repeat within ten minutes a no-op on DynamoDB's side.

Errors are classified by their code fields only: AWS message text is neither stable nor safe
to show, so no message here carries it (or a table name, or an ARN).
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from adapters.resilience.budget import RetryBudget
from domain.deadline import remaining
from domain.errors import (
    ConflictError,
    ContendedError,
    DeadlineExceededError,
    ServiceUnavailableError,
    StoreUnavailableError,
)

_T = TypeVar("_T")

UNAVAILABLE = "The item store is unavailable"
BUSY = "The item store is busy; try again shortly"
CONFLICT = "The item changed or already exists; nothing was written"

# Errors after which the same request may simply be sent again: nothing was applied.
_RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)
# Of those, the ones after which the request was certainly not applied: the only ones a
# write that is not idempotent (a lone UpdateItem ADD) may be repeated after.
_NOT_APPLIED_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionConflictException",
    }
)
# TransactionCanceledException reasons of the same kind ("None" marks the items that were
# fine and only cancelled along with the others).
_RETRYABLE_REASONS = frozenset(
    {
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
    }
)
# 2**62 times any sane base delay is already far above any cap; this only keeps the
# arithmetic away from float overflow for absurd retry counts.
_MAX_EXPONENT = 62
# Transport failures after which the request may or may not have been applied: repeated
# only because every call is idempotent (see the module docstring).
_TRANSIENT_TRANSPORT = (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
# A retry is not started unless this much time would be left after its pause: a DynamoDB
# call rarely takes longer, and one that cannot finish only adds load.
MIN_ATTEMPT_SECONDS = 0.05


class RetryLater(Exception):
    """DynamoDB asked for the request to be repeated; never leaves this adapter."""

    def __init__(self, *, contended: bool = False) -> None:
        super().__init__()
        # Refused because another request was writing the same item: contention on that
        # item, not a struggling table, so such repeats draw nothing from the retry budget
        # (whose point is not to pile on a dependency in trouble).
        self.contended = contended


def classify(exc: ClientError) -> Exception:
    """The exception a ClientError stands for: a domain error, or RetryLater."""
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":  # a lone write's condition
        return ConflictError(CONFLICT)
    if code == "TransactionCanceledException":
        reasons = {
            reason.get("Code", "None") for reason in exc.response.get("CancellationReasons", [])
        }
        if "ConditionalCheckFailed" in reasons:
            return ConflictError(CONFLICT)
        failed = reasons - {"None"}
        if failed and failed <= _RETRYABLE_REASONS:
            return RetryLater(contended=failed == {"TransactionConflict"})
        return StoreUnavailableError(UNAVAILABLE)
    if code in _RETRYABLE_CODES:
        return RetryLater(contended=code == "TransactionConflictException")
    # ValidationException lands here too: the shared checks refuse nearly all bad input
    # before a request is built; what still reaches AWS (an item over 400 KB, an empty
    # attribute name, a table unlike infra/resources.json) is not retried.
    return StoreUnavailableError(UNAVAILABLE)


async def in_thread(work: Callable[[], _T]) -> _T:
    """Run blocking boto3 work on a worker thread; no botocore exception escapes."""
    try:
        return await asyncio.to_thread(work)
    except ClientError as exc:
        raise classify(exc) from exc
    except _TRANSIENT_TRANSPORT as exc:
        raise RetryLater from exc
    except BotoCoreError as exc:  # connection, timeout, parameter and credential errors
        raise StoreUnavailableError(UNAVAILABLE) from exc


async def in_thread_once(work: Callable[[], _T]) -> _T:
    """As in_thread, for a write that must not be applied twice: RetryLater only when the
    request was certainly not applied; a lost answer or a server error, after which it may
    have been, is StoreUnavailableError."""
    try:
        return await asyncio.to_thread(work)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _NOT_APPLIED_CODES:
            raise RetryLater(contended=code == "TransactionConflictException") from exc
        classified = classify(exc)
        if isinstance(classified, RetryLater):
            raise StoreUnavailableError(UNAVAILABLE) from exc
        raise classified from exc
    except BotoCoreError as exc:
        raise StoreUnavailableError(UNAVAILABLE) from exc


def _finished(_: object) -> bool:
    return True


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``max_retries`` repeats after the first attempt; before repeat number ``n``
    (from 0) it sleeps ``random() * min(max_delay, base_delay * 2**n)`` ("full jitter", so
    clients throttled together do not retry together). Each attempt is bounded by the
    request's deadline; a retry is skipped when the deadline or the budget says so."""

    max_retries: int
    base_delay: float
    max_delay: float
    sleep: Callable[[float], Awaitable[None]]
    random: Callable[[], float]
    budget: RetryBudget | None = None

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("retry settings must not be negative")

    def delay(self, retry: int) -> float:
        cap = min(self.max_delay, self.base_delay * 2.0 ** min(retry, _MAX_EXPONENT))
        return self.random() * cap

    async def run(
        self,
        attempt: Callable[[], Awaitable[_T]],
        *,
        finished: Callable[[_T], bool] = _finished,
        gave_up: str = BUSY,
    ) -> _T:
        """Await ``attempt()`` until it neither raises RetryLater nor returns a result that
        is not ``finished``; past the bound, raise ServiceUnavailableError(gave_up)."""
        retry_later: RetryLater | None = None
        for retry in range(self.max_retries + 1):
            if retry:
                pause = self.delay(retry - 1)
                left = remaining()
                if left is not None and left < pause + MIN_ATTEMPT_SECONDS:
                    break
                contended = retry_later is not None and retry_later.contended
                if self.budget is not None and not contended and not self.budget.try_retry():
                    break
                await self.sleep(pause)
            elif self.budget is not None:
                self.budget.record_call()
            try:
                result = await _within_deadline(attempt)
            except RetryLater as exc:
                retry_later = exc
                continue
            retry_later = None
            if finished(result):
                return result
        cause = retry_later.__cause__ if retry_later is not None else None
        if retry_later is not None and retry_later.contended:
            raise ContendedError from cause
        raise ServiceUnavailableError(gave_up) from cause


async def _within_deadline(attempt: Callable[[], Awaitable[_T]]) -> _T:
    """The attempt, cut off when the request's deadline passes. The worker thread may go on
    until botocore's read timeout; the request does not wait for it."""
    left = remaining()
    if left is None:
        return await attempt()
    if left <= 0:
        raise DeadlineExceededError
    try:
        async with asyncio.timeout(left):
            return await attempt()
    except TimeoutError:
        raise DeadlineExceededError from None
