"""One retry layer, a retry budget, deadlines and circuit breakers, each on its own."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import ClientError

from adapters.items.dynamodb.store import DynamoDbItemStore
from adapters.resilience.breaker import CircuitBreaker
from adapters.resilience.budget import RetryBudget
from adapters.resilience.guarded import GuardedItemStore
from api.aws_clients import dynamodb_client, s3_client
from api.settings import load_settings
from domain.deadline import deadline_in, remaining
from domain.errors import (
    CircuitOpenError,
    DeadlineExceededError,
    NotFoundError,
    ServiceUnavailableError,
    StoreUnavailableError,
)
from domain.ports import Key

THROTTLED = json.dumps(
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": "slow down",
    }
).encode()


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


class ThrottleEverything:
    """A botocore before-send hook: every request is answered "throttled" locally and
    counted; nothing leaves the process."""

    def __init__(self) -> None:
        self.sent = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        self.sent += 1
        headers = HTTPHeaders()
        headers["x-amzn-requestid"] = "x"
        return AWSResponse(request.url, 400, headers, _Raw(THROTTLED))


def _aws_settings(tmp_path: Path) -> Any:
    return load_settings(
        backend="aws",
        bucket="b",
        cursor_secret="ab" * 32,
        aws_endpoint_url="http://127.0.0.1:9",
        data_dir=tmp_path,
    )


@pytest.fixture(autouse=True)
def _dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")


# --- exactly one retry layer ----------------------------------------------------------


def test_the_app_clients_have_botocore_retries_off(tmp_path: Path) -> None:
    settings = _aws_settings(tmp_path)
    dynamodb, s3 = dynamodb_client(settings), s3_client(settings)
    calls: dict[Any, Any] = {
        dynamodb: lambda: dynamodb.get_item(TableName="t", Key={"pk": {"S": "a"}}),
        s3: lambda: s3.head_bucket(Bucket="b"),
    }
    for client, call in calls.items():
        config: Any = client.meta.config
        assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
        hook = ThrottleEverything()
        client.meta.events.register("before-send", hook)
        with pytest.raises(ClientError):
            call()
        assert hook.sent == 1  # botocore sent it once and gave up: no retry of its own


async def test_a_throttled_call_is_sent_only_as_often_as_the_adapter_retries(
    tmp_path: Path,
) -> None:
    client = dynamodb_client(_aws_settings(tmp_path))
    hook = ThrottleEverything()
    client.meta.events.register("before-send", hook)  # type: ignore[arg-type]

    async def no_sleep(_: float) -> None:
        return None

    store = DynamoDbItemStore(client, "t", max_retries=5, sleep=no_sleep)
    with pytest.raises(ServiceUnavailableError):
        await store.get_many([Key("USER#a", "META")])
    # 1 + 5 retries; with botocore's 3 attempts inside, it was 18.
    assert hook.sent == 6


# --- the retry budget -----------------------------------------------------------------


def test_retry_budget_bounds_retries_to_a_share_of_calls() -> None:
    now = [0.0]
    budget = RetryBudget(ratio=0.1, floor_per_second=1.0, burst=10, clock=lambda: now[0])
    for _ in range(1000):
        budget.record_call()
        now[0] += 0.001  # 1000 calls in one second
        while budget.try_retry():  # every call wants to retry as much as allowed
            pass
    # 10 % of the calls, plus what the floor (1/s for 1 s) and the initial burst allow.
    assert budget.retries <= 0.1 * 1000 + 1 + 10
    assert budget.retries >= 0.1 * 1000
    assert budget.refused > 0


async def test_an_exhausted_budget_stops_retrying_at_once(tmp_path: Path) -> None:
    client = dynamodb_client(_aws_settings(tmp_path))
    hook = ThrottleEverything()
    client.meta.events.register("before-send", hook)  # type: ignore[arg-type]
    budget = RetryBudget(ratio=0.0, floor_per_second=0.0, burst=1, clock=lambda: 0.0)

    async def no_sleep(_: float) -> None:
        return None

    store = DynamoDbItemStore(client, "t", max_retries=5, sleep=no_sleep, budget=budget)
    for _ in range(3):
        with pytest.raises(ServiceUnavailableError):
            await store.get_many([Key("USER#a", "META")])
    assert hook.sent == 3 + 1  # one retry from the burst, then first attempts only


# --- deadlines ------------------------------------------------------------------------


async def test_no_retry_starts_that_cannot_finish_before_the_deadline(tmp_path: Path) -> None:
    client = dynamodb_client(_aws_settings(tmp_path))
    hook = ThrottleEverything()
    client.meta.events.register("before-send", hook)  # type: ignore[arg-type]
    # The first pause alone (0.5 s) would outlast the request's time.
    store = DynamoDbItemStore(
        client, "t", max_retries=5, base_delay=1.0, random=lambda: 0.5, sleep=asyncio.sleep
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    with deadline_in(0.3), pytest.raises(ServiceUnavailableError):
        await store.get_many([Key("USER#a", "META")])
    assert hook.sent == 1
    assert loop.time() - started < 0.3


class SlowStore:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls = 0

    async def get_many(self, keys: Any) -> list[Any]:
        self.calls += 1
        await asyncio.sleep(self.seconds)
        return [None for _ in keys]


async def test_a_slow_dependency_answers_service_unavailable_at_the_deadline() -> None:
    store = GuardedItemStore(SlowStore(5.0), CircuitBreaker("items", label="item store"))  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    started = loop.time()
    with deadline_in(0.2), pytest.raises(DeadlineExceededError):
        await store.get_many([Key("a", "b")])
    assert loop.time() - started < 0.5


async def test_an_outer_deadline_is_never_extended() -> None:
    with deadline_in(0.5), deadline_in(100):
        left = remaining()
        assert left is not None and left <= 0.5
    assert remaining() is None


# --- circuit breakers -----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _fail() -> None:
    raise StoreUnavailableError("down")


async def _ok() -> str:
    return "ok"


async def test_breaker_opens_fails_fast_lets_one_trial_through_and_closes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    breaker = CircuitBreaker(
        "items", label="item store", failure_threshold=3, reset_seconds=2.0, clock=clock
    )
    changes: list[tuple[str, str]] = []
    breaker.add_listener(lambda name, old, new: changes.append((old, new)))
    caplog.set_level(logging.INFO, logger="demobackend.breaker")

    for _ in range(3):
        with pytest.raises(StoreUnavailableError):
            await breaker.call(_fail)
    assert breaker.state == "open"

    called = 0

    async def counted() -> str:
        nonlocal called
        called += 1
        await asyncio.sleep(0.01)
        return "ok"

    with pytest.raises(CircuitOpenError) as refused:
        await breaker.call(counted)
    assert called == 0 and refused.value.code == "SERVICE_UNAVAILABLE"
    assert refused.value.retry_after_seconds == 2

    clock.now += 2.0
    assert str(breaker.state) == "half_open"
    # Two calls at once while half-open: one trial passes, the other is refused.
    results = await asyncio.gather(
        breaker.call(counted), breaker.call(counted), return_exceptions=True
    )
    assert called == 1
    assert sorted(type(r).__name__ for r in results) == ["CircuitOpenError", "str"]
    assert str(breaker.state) == "closed"
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    lines = [r.getMessage() for r in caplog.records if r.name == "demobackend.breaker"]
    assert lines == [
        "circuit breaker items: closed -> open",
        "circuit breaker items: open -> half_open",
        "circuit breaker items: half_open -> closed",
    ]


async def _half_open_breaker() -> CircuitBreaker:
    """A breaker opened by one failure, its reset time since passed: the next call is the
    trial."""
    clock = Clock()
    breaker = CircuitBreaker(
        "blobs", label="blob store", failure_threshold=1, reset_seconds=1.0, clock=clock
    )
    with pytest.raises(StoreUnavailableError):
        await breaker.call(_fail)
    clock.now += 1.0
    return breaker


async def test_a_failed_trial_opens_the_breaker_again() -> None:
    breaker = await _half_open_breaker()
    with pytest.raises(StoreUnavailableError):
        await breaker.call(_fail)  # the trial
    assert breaker.state == "open" and breaker.opened == 2
    with pytest.raises(CircuitOpenError):
        await breaker.call(_ok)


async def test_domain_answers_do_not_count_as_failures() -> None:
    breaker = CircuitBreaker("items", label="item store", failure_threshold=2)

    async def missing() -> None:
        raise NotFoundError("no such file")

    for _ in range(5):
        with pytest.raises(NotFoundError):
            await breaker.call(missing)
    assert breaker.state == "closed"


# --- the guard's own timer and the breaker's closed path ------------------------------


class FlakyStore:
    """Answers at once unless told to fail; counts the calls that reached it."""

    def __init__(self) -> None:
        self.failing = False
        self.calls = 0

    async def get_many(self, keys: Any) -> list[Any]:
        self.calls += 1
        if self.failing:
            raise StoreUnavailableError("down")
        return [None for _ in keys]


async def test_failures_after_a_long_healthy_run_still_open_the_breaker() -> None:
    inner = FlakyStore()
    breaker = CircuitBreaker("items", label="item store", failure_threshold=3)
    store = GuardedItemStore(inner, breaker)  # type: ignore[arg-type]
    with deadline_in(60):
        for _ in range(2000):
            await store.get_many([Key("a", "b")])
        inner.failing = True
        for _ in range(2):
            with pytest.raises(StoreUnavailableError):
                await store.get_many([Key("a", "b")])
        inner.failing = False
        await store.get_many([Key("a", "b")])  # a success in between starts the count again
        inner.failing = True
        for _ in range(3):
            with pytest.raises(StoreUnavailableError):
                await store.get_many([Key("a", "b")])
        assert breaker.state == "open" and breaker.opened == 1
        with pytest.raises(CircuitOpenError):
            await store.get_many([Key("a", "b")])
    assert inner.calls == 2000 + 2 + 1 + 3


async def test_a_call_past_the_deadline_counts_and_leaves_the_task_usable() -> None:
    slow = SlowStore(5.0)
    breaker = CircuitBreaker("items", label="item store", failure_threshold=1)
    store = GuardedItemStore(slow, breaker)  # type: ignore[arg-type]
    task = asyncio.current_task()
    assert task is not None
    with deadline_in(0.05), pytest.raises(DeadlineExceededError):
        await store.get_many([Key("a", "b")])
    assert breaker.state == "open"  # a dependency too slow for the deadline is failing
    # The timer's cancellation was taken back: the task goes on without a stray cancel.
    assert task.cancelling() == 0
    await asyncio.sleep(0.01)


async def test_a_spent_deadline_refuses_before_the_store_and_the_breaker() -> None:
    inner = FlakyStore()
    breaker = CircuitBreaker("items", label="item store", failure_threshold=1)
    store = GuardedItemStore(inner, breaker)  # type: ignore[arg-type]
    with deadline_in(0.0):
        await asyncio.sleep(0.01)
        with pytest.raises(DeadlineExceededError):
            await store.get_many([Key("a", "b")])
    assert inner.calls == 0 and breaker.state == "closed"


async def test_a_cancelled_request_stays_cancelled_not_out_of_time() -> None:
    slow = SlowStore(5.0)
    breaker = CircuitBreaker("items", label="item store", failure_threshold=1)
    store = GuardedItemStore(slow, breaker)  # type: ignore[arg-type]

    async def request() -> None:
        with deadline_in(10):
            await store.get_many([Key("a", "b")])

    running = asyncio.create_task(request())
    await asyncio.sleep(0.01)
    running.cancel()  # the client went away: not the deadline's doing
    with pytest.raises(asyncio.CancelledError):
        await running
    assert running.cancelled()  # not turned into SERVICE_UNAVAILABLE for nobody


class SteppingStore:
    """Suspends ``steps`` times briefly, then for ``then`` seconds; notes its cleanup."""

    def __init__(self, steps: int, then: float) -> None:
        self.steps, self.then = steps, then
        self.cleaned_up = False

    async def get_many(self, keys: Any) -> list[Any]:
        try:
            for _ in range(self.steps):
                await asyncio.sleep(0)
            await asyncio.sleep(self.then)
            return [{"pk": key.pk} for key in keys]
        finally:
            self.cleaned_up = True


async def test_a_call_that_suspends_gets_its_result_through_the_guard() -> None:
    inner = SteppingStore(steps=3, then=0.01)
    store = GuardedItemStore(inner, CircuitBreaker("items", label="item store"))  # type: ignore[arg-type]
    with deadline_in(10):
        assert await store.get_many([Key("a", "b"), Key("c", "d")]) == [{"pk": "a"}, {"pk": "c"}]


async def test_a_call_bounded_after_its_first_steps_is_still_cut_at_the_deadline() -> None:
    # The timer starts when the call first suspends; steps before the long wait must not
    # let it run past the request's time, and the call's own cleanup still runs.
    inner = SteppingStore(steps=3, then=5.0)
    store = GuardedItemStore(inner, CircuitBreaker("items", label="item store"))  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    started = loop.time()
    with deadline_in(0.1), pytest.raises(DeadlineExceededError):
        await store.get_many([Key("a", "b")])
    assert loop.time() - started < 0.5
    assert inner.cleaned_up
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_cancelled_calls_do_not_open_the_breaker() -> None:
    """Clients going away (or a failed sibling read cancelling the others) say nothing of
    the dependency: they must not turn it away for everyone else."""
    breaker = CircuitBreaker("items", label="item store", failure_threshold=2)
    store = GuardedItemStore(SlowStore(5.0), breaker)  # type: ignore[arg-type]

    async def request(bounded: bool) -> None:
        if bounded:
            with deadline_in(10):
                await store.get_many([Key("a", "b")])
        else:
            await store.get_many([Key("a", "b")])

    for bounded in (True, False, True, False):
        running = asyncio.create_task(request(bounded))
        await asyncio.sleep(0.01)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert breaker.state == "closed" and breaker.opened == 0


async def test_a_cancelled_trial_leaves_the_next_call_to_be_the_trial() -> None:
    breaker = await _half_open_breaker()
    trial = asyncio.create_task(breaker.call(lambda: asyncio.sleep(5.0)))
    await asyncio.sleep(0.01)
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial

    assert str(breaker.state) == "half_open" and breaker.opened == 1
    assert await breaker.call(_ok) == "ok"  # the next call is the trial, and closes it
    assert breaker.state == "closed"
