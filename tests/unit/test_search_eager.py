"""domain/search/eager.py: gather without a task for a coroutine that never waits, and
with the same results, errors, concurrency and cancellation as asyncio.gather otherwise."""

import asyncio

import pytest

from domain.search import eager


async def test_coroutines_that_never_wait_run_on_the_callers_task_in_order() -> None:
    caller = asyncio.current_task()
    ran_on: list[asyncio.Task[object] | None] = []

    async def answer(value: int) -> int:
        ran_on.append(asyncio.current_task())
        return value

    assert await eager.gather(answer(1), answer(2), answer(3)) == [1, 2, 3]
    assert ran_on == [caller, caller, caller]


async def test_coroutines_that_wait_are_in_flight_together() -> None:
    # Each waits for what the other does after its own first wait: run one after the
    # other, neither would ever finish.
    first_may_go, second_may_go = asyncio.Event(), asyncio.Event()

    async def first() -> str:
        await first_may_go.wait()
        second_may_go.set()
        return "first"

    async def second() -> str:
        first_may_go.set()
        await second_may_go.wait()
        return "second"

    async def never_waits() -> str:
        return "third"

    async with asyncio.timeout(5):
        results = await eager.gather(first(), second(), never_waits())
    assert results == ["first", "second", "third"]


async def test_gather_two_keeps_each_result_type() -> None:
    async def flag() -> bool:
        await asyncio.sleep(0)
        return True

    async def names() -> list[str]:
        return ["a"]

    assert await eager.gather_two(flag(), names()) == (True, ["a"])


async def test_an_error_before_any_wait_is_raised_and_later_coroutines_never_run() -> None:
    ran: list[str] = []

    async def fails() -> int:
        raise ValueError("bad input")

    async def later() -> int:
        ran.append("later")
        return 1

    with pytest.raises(ValueError, match="bad input"):
        await eager.gather(fails(), later())
    assert ran == []


async def test_an_error_after_a_wait_is_raised() -> None:
    async def fails_later() -> int:
        await asyncio.sleep(0)
        raise LookupError("gone")

    async def fine() -> int:
        return 1

    with pytest.raises(LookupError, match="gone"):
        await eager.gather(fine(), fails_later())


async def test_cancelling_the_caller_cancels_a_coroutine_that_waits() -> None:
    started, cleaned_up = asyncio.Event(), asyncio.Event()

    async def waits_forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cleaned_up.set()

    caller = asyncio.ensure_future(eager.gather(waits_forever()))
    await started.wait()
    await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    async with asyncio.timeout(5):
        await cleaned_up.wait()
