"""SERVICE_UNAVAILABLE at the HTTP edge: an open breaker or a spent deadline answers 503
with Retry-After on REST and on /graphql when the whole operation failed, and the Lambda
handler answers before the invocation's own time runs out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from adapters.resilience.breaker import CircuitBreaker
from adapters.resilience.guarded import GuardedItemStore
from api.bootstrap import build_deps, build_services
from api.lambda_handler import LambdaHandler
from api.settings import load_settings
from domain.errors import StoreUnavailableError
from domain.ports import Item, ItemStore, Key
from tests.support.apigw_events import LambdaContext, http_api_event, response_json
from tests.support.rest import Rest, assert_error, open_rest


@pytest.fixture
async def rest(tmp_path: Path) -> AsyncIterator[Rest]:
    async with open_rest(tmp_path, breaker_failure_threshold=2) as rest:
        yield rest


async def _trip(breaker: CircuitBreaker) -> None:
    async def fail() -> None:
        raise StoreUnavailableError("down")

    while breaker.state != "open":
        with pytest.raises(StoreUnavailableError):
            await breaker.call(fail)


async def test_an_open_breaker_answers_503_with_retry_after(rest: Rest) -> None:
    alice = await rest.auth("alice")  # the token is issued while the store still answers
    await _trip(rest.deps.breakers["items"])

    me = await rest.http.get("/rest/me", headers=alice)
    assert_error(me, 503, "SERVICE_UNAVAILABLE")
    assert int(me.headers["retry-after"]) >= 1

    graphql = await rest.http.post("/graphql", json={"query": "{ me { id } }"}, headers=alice)
    assert graphql.status_code == 503 and int(graphql.headers["retry-after"]) >= 1
    error = graphql.json()["errors"][0]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["message"] == "The item store is unavailable; try again shortly"

    ready = await rest.http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["breakers"]["items"] == "open"


class SlowItems:
    """The real store behind a 5 s pause on every read."""

    def __init__(self, inner: ItemStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        await asyncio.sleep(5)
        return await self.inner.get_many(keys)


class ShortInvocation(LambdaContext):
    def get_remaining_time_in_millis(self) -> int:
        return 1_300  # 0.3 s once the 1 s margin is kept free


def test_lambda_answers_503_before_the_invocation_runs_out(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    deps = build_deps(settings)
    assert deps.dev_idp is not None
    token = asyncio.run(deps.dev_idp.issue_tokens_for("alice", ())).id_token
    slow = GuardedItemStore(SlowItems(deps.items), deps.breakers["items"])
    deps.services = build_services(settings, slow, deps.blobs, b"k" * 32)
    handler = LambdaHandler(deps)

    event = http_api_event(
        "POST",
        "/graphql",
        body={"query": "{ me { id } }"},
        headers={"authorization": f"Bearer {token}"},
    )
    started = time.monotonic()
    response = handler(event, ShortInvocation())
    took = time.monotonic() - started

    assert response["statusCode"] == 503
    assert took < 1.3  # answered within the invocation, not cut off by Lambda
    assert response_json(response)["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert int(response["headers"]["retry-after"]) >= 1


async def test_resilience_off_is_a_kill_switch(tmp_path: Path) -> None:
    async with open_rest(tmp_path, resilience=False) as rest:
        assert rest.deps.breakers == {}
        ready = await rest.http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["breakers"] == {}
        alice = await rest.auth("alice")
        assert (await rest.http.get("/rest/me", headers=alice)).status_code == 200
