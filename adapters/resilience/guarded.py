"""Deadline and circuit breaker around each dependency, applied by the composition root
to whichever adapters it built (DynamoDB or SQLite, S3 or the folder, Cognito's JWKS).

Each call first checks the request still has time, then goes through the dependency's
breaker, bounded by the time left (asyncio.timeout): a slow dependency answers
SERVICE_UNAVAILABLE when the request's time is up instead of holding it (and, on Lambda,
the invocation) until the function's own timeout. What needs no network passes straight
through: presigning, so uploads and downloads can still be handed out while S3 is slow;
streams (read, write, scan) serve backups and the local blob routes, whose length is the
data's; ping, so /readyz asks the dependency itself rather than its breaker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Mapping,
    Sequence,
)
from types import CoroutineType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from domain.deadline import current as current_deadline
from domain.errors import DeadlineExceededError, InvalidTokenError, StoreUnavailableError

if TYPE_CHECKING:
    from adapters.identity.jwks_sources import JwksSource
    from adapters.resilience.breaker import CircuitBreaker
    from domain.ports import (
        BlobInfo,
        BlobStore,
        Item,
        ItemStore,
        Key,
        Page,
        PartTarget,
        StoredPart,
        UploadTarget,
        WriteOp,
    )

_T = TypeVar("_T")


async def guarded(breaker: CircuitBreaker, work: Callable[[], Awaitable[_T]]) -> _T:
    deadline = current_deadline()  # read once: the check and the bound use the same value
    if deadline is None:
        return await breaker.call(work)
    if deadline - time.monotonic() < 0:
        raise DeadlineExceededError
    if not breaker.closed:
        return await breaker.call(lambda: _bounded(work, deadline))
    # The closed breaker's path (every healthy call): breaker.call's bookkeeping without
    # its coroutine and closure; the state is read again after the await, in settle_*.
    try:
        result = await _bounded(work, deadline)
    except BaseException as exc:
        breaker.settle_failure(exc)
        raise
    breaker.settle_success()
    return result


class _Expiry:
    """The timer's callback: cancels the call's task once, remembering that it did."""

    __slots__ = ("cancelling", "fired", "task")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.cancelling = task.cancelling()
        self.fired = False

    def __call__(self) -> None:
        self.fired = True
        self.task.cancel()


async def _bounded(work: Callable[[], Awaitable[_T]], deadline: float) -> _T:
    """The work, bounded by ``deadline``. Its first step runs before any timer exists: a
    call that finishes without suspending (a local SQLite read) cannot be interrupted by
    one anyway, and a timer per call, even cancelled, stays in the event loop's heap that
    every later loop turn looks at. A call that suspends gets the timer then, with the
    same deadline; if the deadline passed meanwhile, it fires at once."""
    awaitable = work()
    if type(awaitable) is not CoroutineType:
        return await _timed(awaitable, deadline)
    coroutine = cast("Coroutine[Any, Any, _T]", awaitable)
    try:
        first = coroutine.send(None)
    except StopIteration as done:
        return cast("_T", done.value)
    except TimeoutError:
        raise DeadlineExceededError from None
    return await _timed(_Resumed(coroutine, first), deadline)


class _Resumed(Awaitable[_T]):
    """A coroutine already stepped once, awaited from where it suspended: ``yield from``
    spelled out (sends, throws and close go to the coroutine, its result comes back)."""

    __slots__ = ("_coroutine", "_first")

    def __init__(self, coroutine: Coroutine[Any, Any, _T], first: Any) -> None:
        self._coroutine = coroutine
        self._first = first

    def __await__(self) -> Generator[Any, Any, _T]:
        coroutine, step = self._coroutine, self._first
        while True:
            try:
                sent = yield step
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as exc:  # cancellation included: the coroutine decides
                try:
                    step = coroutine.throw(exc)
                except StopIteration as done:
                    return cast("_T", done.value)
            else:
                try:
                    step = coroutine.send(sent)
                except StopIteration as done:
                    return cast("_T", done.value)


async def _timed(awaitable: Awaitable[_T], deadline: float) -> _T:
    """``async with asyncio.timeout(left)`` with the same cancellation rules (its timer
    cancels the task; only a cancellation nobody else asked for becomes the timeout),
    written out because the context manager's objects and calls were most of the guard's
    cost on every store call (~3.4 of ~4.2 us)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("a guarded call must run inside a task")
    expiry = _Expiry(task)
    left = deadline - time.monotonic()
    timer = loop.call_soon(expiry) if left <= 0 else loop.call_at(loop.time() + left, expiry)
    try:
        result = await awaitable
    except BaseException as exc:
        timer.cancel()
        if (
            expiry.fired
            and task.uncancel() <= expiry.cancelling
            and type(exc) is asyncio.CancelledError
        ) or isinstance(exc, TimeoutError):
            raise DeadlineExceededError from None
        raise
    timer.cancel()
    if expiry.fired:
        task.uncancel()
    return result


class GuardedItemStore:
    def __init__(self, inner: ItemStore, breaker: CircuitBreaker) -> None:
        self.inner = inner
        self.breaker = breaker

    def __getattr__(self, name: str) -> Any:  # adapter extras (close, ...) pass through
        return getattr(self.inner, name)

    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        return await guarded(self.breaker, lambda: self.inner.get_many(keys))

    async def query(
        self,
        partition: str,
        *,
        index: str | None = None,
        prefix: str | None = None,
        after: str | None = None,
        limit: int = 100,
        descending: bool = False,
    ) -> Page:
        return await guarded(
            self.breaker,
            lambda: self.inner.query(
                partition,
                index=index,
                prefix=prefix,
                after=after,
                limit=limit,
                descending=descending,
            ),
        )

    async def write(self, ops: Sequence[WriteOp]) -> None:
        await guarded(self.breaker, lambda: self.inner.write(ops))

    def scan(self, *, page_size: int = 500) -> AsyncIterator[list[Item]]:
        return self.inner.scan(page_size=page_size)

    async def ping(self) -> None:
        await self.inner.ping()


class GuardedBlobStore:
    def __init__(self, inner: BlobStore, breaker: CircuitBreaker) -> None:
        self.inner = inner
        self.breaker = breaker

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def presign_upload(
        self,
        key: str,
        *,
        size: int,
        content_type: str,
        sha256: str | None,
        expires_in: int,
    ) -> UploadTarget:
        return await self.inner.presign_upload(
            key, size=size, content_type=content_type, sha256=sha256, expires_in=expires_in
        )

    async def presign_download(self, key: str, *, filename: str, expires_in: int) -> str:
        return await self.inner.presign_download(key, filename=filename, expires_in=expires_in)

    async def head(self, key: str) -> BlobInfo | None:
        return await guarded(self.breaker, lambda: self.inner.head(key))

    async def delete(self, key: str) -> None:
        await guarded(self.breaker, lambda: self.inner.delete(key))

    async def copy(self, source_key: str, dest_key: str) -> None:
        await guarded(self.breaker, lambda: self.inner.copy(source_key, dest_key))

    async def confirm(self, key: str) -> None:
        await guarded(self.breaker, lambda: self.inner.confirm(key))

    def read(self, key: str) -> AsyncIterator[bytes]:
        return self.inner.read(key)

    async def write(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str, sha256: str
    ) -> None:
        await self.inner.write(key, chunks, content_type=content_type, sha256=sha256)

    async def start_multipart(
        self, key: str, *, content_type: str, part_checksums: bool = False
    ) -> str:
        return await guarded(
            self.breaker,
            lambda: self.inner.start_multipart(
                key, content_type=content_type, part_checksums=part_checksums
            ),
        )

    async def presign_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        size: int,
        expires_in: int,
        sha256: str | None = None,
    ) -> PartTarget:
        return await self.inner.presign_part(
            key, upload_id, part_number, size=size, expires_in=expires_in, sha256=sha256
        )

    async def uploaded_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        return await guarded(self.breaker, lambda: self.inner.uploaded_parts(key, upload_id))

    async def complete_multipart(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[tuple[int, str]],
        *,
        checksums: Mapping[int, str] | None = None,
    ) -> BlobInfo:
        return await guarded(
            self.breaker,
            lambda: self.inner.complete_multipart(key, upload_id, parts, checksums=checksums),
        )

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        await guarded(self.breaker, lambda: self.inner.abort_multipart(key, upload_id))

    async def ping(self) -> None:
        await self.inner.ping()


class GuardedJwksSource:
    """The identity provider's key set behind its breaker. The verifier keeps the keys it
    has; this bounds only the refetch for an unknown key id, which then fails closed
    (UNAUTHENTICATED) at once while the endpoint is down."""

    def __init__(self, inner: JwksSource, breaker: CircuitBreaker) -> None:
        self.inner = inner
        self.breaker = breaker

    async def fetch(self) -> dict[str, Any]:
        try:
            return await guarded(self.breaker, self._fetch)
        except _KeysUnavailableError:
            raise InvalidTokenError from None

    async def _fetch(self) -> dict[str, Any]:
        try:
            return await self.inner.fetch()
        except InvalidTokenError as exc:
            # The source says "invalid token" for an unreachable endpoint too (callers
            # learn nothing); to the breaker that is the dependency failing.
            raise _KeysUnavailableError from exc


class _KeysUnavailableError(StoreUnavailableError):
    pass
