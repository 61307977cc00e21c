"""Reads in flight together, without a task for each read that needs none.

A query's reads are independent (df counters, vocabulary, postings per access scope), so
they are awaited together: on DynamoDB each is a network round trip. On SQLite a small read
answers on the event loop without ever waiting (adapters/items/sqlite.py), and there the
task asyncio.gather makes per read (created, scheduled, two passes of the loop, the
gather's callbacks: ~7 µs each, ~16 per search) cost more than the reads themselves.

``gather`` runs each coroutine on the caller's task until it first waits; only one that
waits becomes a task, and those are then awaited together. So a store that answers at once
costs no task, and one that waits still has all its reads in flight at the same time.
"""

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

_T = TypeVar("_T")
_A = TypeVar("_A")
_B = TypeVar("_B")


async def gather(*coroutines: Coroutine[Any, Any, _T]) -> list[_T]:
    """The coroutines' results in order, as ``asyncio.gather`` gives them; the first error
    raised is raised (a coroutine not yet started is then closed, never run)."""
    results: list[Any] = [None] * len(coroutines)
    waiting: dict[int, asyncio.Future[Any]] = {}
    for index, coroutine in enumerate(coroutines):
        try:
            waits_on = coroutine.send(None)
        except StopIteration as finished:
            results[index] = finished.value
            continue
        except BaseException:
            for later in coroutines[index + 1 :]:
                later.close()
            for task in waiting.values():
                task.cancel()
            raise
        waiting[index] = asyncio.ensure_future(_Resumed(coroutine, waits_on))
    if waiting:
        for index, value in zip(waiting, await asyncio.gather(*waiting.values()), strict=True):
            results[index] = value
    return results


async def gather_two(
    first: Coroutine[Any, Any, _A], second: Coroutine[Any, Any, _B]
) -> tuple[_A, _B]:
    """``gather`` of two coroutines of different result types."""
    results: list[Any] = await gather(first, second)
    return results[0], results[1]


class _Resumed:
    """A coroutine that already ran up to its first wait, as an awaitable a task can run:
    it hands the task what the coroutine waits on, then goes on where it left off. The
    task does exactly what it would have done had it started the coroutine itself (waits
    for that future, cancels it when the task is cancelled, throws errors in)."""

    def __init__(self, coroutine: Coroutine[Any, Any, Any], waits_on: Any) -> None:
        self._coroutine = coroutine
        self._waits_on = waits_on

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine, sent = self._coroutine, self._waits_on
        while True:
            try:
                answer = yield sent
            except BaseException as exc:  # thrown in by the task: cancellation
                try:
                    sent = coroutine.throw(exc)
                except StopIteration as finished:
                    return finished.value
                continue
            try:
                sent = coroutine.send(answer)
            except StopIteration as finished:
                return finished.value
