"""Where DynamoDB calls leave the event loop, where botocore errors become domain errors, and
the bounded retry (capped exponential backoff with full jitter) every call goes through.

Errors are classified by their code fields only: AWS message text is neither stable nor safe
to show, so no message here carries it (or a table name, or an ARN).
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from domain.errors import ConflictError, StoreUnavailableError

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


class RetryLater(Exception):
    """DynamoDB asked for the request to be repeated; never leaves this adapter."""


def classify(exc: ClientError) -> Exception:
    """The exception a ClientError stands for: a domain error, or RetryLater."""
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "TransactionCanceledException":
        reasons = {
            reason.get("Code", "None") for reason in exc.response.get("CancellationReasons", [])
        }
        if "ConditionalCheckFailed" in reasons:
            return ConflictError(CONFLICT)
        failed = reasons - {"None"}
        if failed and failed <= _RETRYABLE_REASONS:
            return RetryLater()
        return StoreUnavailableError(UNAVAILABLE)
    if code in _RETRYABLE_CODES:
        return RetryLater()
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
    except BotoCoreError as exc:  # connection, timeout, parameter and credential errors
        raise StoreUnavailableError(UNAVAILABLE) from exc


def _finished(_: object) -> bool:
    return True


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``max_retries`` repeats after the first attempt; before repeat number ``n``
    (from 0) it sleeps ``random() * min(max_delay, base_delay * 2**n)`` ("full jitter", so
    clients throttled together do not retry together)."""

    max_retries: int
    base_delay: float
    max_delay: float
    sleep: Callable[[float], Awaitable[None]]
    random: Callable[[], float]

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
        is not ``finished``; past the bound, raise StoreUnavailableError(gave_up)."""
        retry_later: RetryLater | None = None
        for retry in range(self.max_retries + 1):
            if retry:
                await self.sleep(self.delay(retry - 1))
            try:
                result = await attempt()
            except RetryLater as exc:
                retry_later = exc
                continue
            retry_later = None
            if finished(result):
                return result
        cause = retry_later.__cause__ if retry_later is not None else None
        raise StoreUnavailableError(gave_up) from cause
