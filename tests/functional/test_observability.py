"""Logs and metrics of the real app (in-process, httpx): the request line and metrics of a
successful query, a failed one and a masked internal error; /metrics in Prometheus text;
bounded cardinality; correlation ids under concurrency; secrets never logged."""

import asyncio
import json
import logging
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.app import build_app
from api.observability.metrics import MAX_OPERATION_NAMES, OTHER
from api.settings import load_settings
from resolvers.extensions.metrics import hash_user_id

PASSWORD = "tr0ub4dor&3-very-secret"
ME = "query Me { me { username } }"
CREATE_UPLOAD = """
mutation Upload($input: CreateUploadInput!) {
  createUpload(input: $input) { file { id } upload { url method fields headers } }
}"""


@dataclass
class Harness:
    http: httpx.AsyncClient
    capsys: pytest.CaptureFixture[str]
    captured: str = ""

    async def signed_in(self, username: str = "alice") -> tuple[str, str]:
        """(id token, user id) for a user signed up with PASSWORD."""
        created = await self.http.post(
            "/auth/signup", json={"username": username, "password": PASSWORD}
        )
        assert created.status_code == 201, created.text
        tokens = await self.http.post(
            "/auth/token", json={"username": username, "password": PASSWORD}
        )
        return tokens.json()["idToken"], created.json()["userId"]

    async def graphql(
        self, query: str, token: str | None = None, **variables: Any
    ) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        body: dict[str, Any] = {"query": query}
        if variables:
            body["variables"] = variables
        return await self.http.post("/graphql", json=body, headers=headers)

    def lines(self) -> list[dict[str, Any]]:
        self.captured += self.capsys.readouterr().out
        return [json.loads(line) for line in self.captured.splitlines() if line.startswith("{")]

    def request_line(self, response: httpx.Response) -> dict[str, Any]:
        request_id = response.headers["x-request-id"]
        found = [
            line
            for line in self.lines()
            if line.get("message") == "request" and line.get("request_id") == request_id
        ]
        assert len(found) == 1, found
        return found[0]

    async def metrics(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        response = await self.http.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append((sample.labels, sample.value))
        return samples


def value(samples: list[tuple[dict[str, str], float]] | None, **labels: str) -> float:
    return sum(v for got, v in samples or [] if all(got.get(k) == w for k, w in labels.items()))


@pytest.fixture
async def harness(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> AsyncIterator[Harness]:
    app = build_app(load_settings(data_dir=tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield Harness(http, capsys)


async def test_a_successful_query_logs_one_line_with_its_figures(harness: Harness) -> None:
    token, user_id = await harness.signed_in()
    response = await harness.graphql(ME, token)
    assert response.json() == {"data": {"me": {"username": "alice"}}}

    line = harness.request_line(response)
    assert line["level"] == "INFO" and line["service"] == "demobackend"
    assert line["correlation_id"] == response.headers["x-request-id"]
    assert line["route"] == "/graphql" and line["method"] == "POST"
    assert (line["status"], line["operation_name"], line["operation_type"]) == (200, "Me", "query")
    assert line["error_codes"] == []
    assert line["user"] == hash_user_id(user_id) and user_id not in json.dumps(line)
    assert line["item_calls"] >= 1 and line["items_read"] >= 1
    assert line["store_calls"] == line["item_calls"] + line["blob_calls"]
    assert isinstance(line["latency_ms"], float)

    metrics = await harness.metrics()
    where = {"route": "/graphql", "operation": "Me"}
    assert value(metrics["demobackend_requests_total"], **where, status="200") == 1
    assert value(metrics["demobackend_request_duration_seconds_count"], **where) == 1
    assert value(metrics.get("demobackend_errors_total"), **where) == 0
    assert value(metrics["demobackend_store_calls_total"], **where, store="items") >= 1
    assert value(metrics["demobackend_items_read_total"], **where) >= 1


async def test_failed_queries_log_and_count_their_codes(harness: Harness) -> None:
    unauthenticated = await harness.graphql(ME)
    bad_input = await harness.graphql("query Broken { nope }")
    anonymous = await harness.graphql("{ me { username } }")

    line = harness.request_line(unauthenticated)
    assert (line["status"], line["error_codes"]) == (200, ["UNAUTHENTICATED"])
    assert "user" not in line
    assert harness.request_line(bad_input)["error_codes"] == ["BAD_USER_INPUT"]
    unnamed = harness.request_line(anonymous)
    assert (unnamed.get("operation_name"), unnamed["operation"]) == (None, "anonymous")

    errors = (await harness.metrics())["demobackend_errors_total"]
    assert value(errors, operation="Me", code="UNAUTHENTICATED") == 1
    assert value(errors, operation="Broken", code="BAD_USER_INPUT") == 1
    assert value(errors, operation="anonymous", code="UNAUTHENTICATED") == 1


async def test_a_masked_internal_error_is_logged_with_the_correlation_id(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, _ = await harness.signed_in()

    async def missing_profile(info: Any, user_id: str) -> None:
        return None  # Query.me raises RuntimeError: unexpected, so masked

    monkeypatch.setattr("resolvers.query.resolve_user", missing_profile)
    response = await harness.graphql(ME, token)
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"

    request_id = response.headers["x-request-id"]
    line = harness.request_line(response)
    assert line["error_codes"] == ["INTERNAL_SERVER_ERROR"]
    [logged] = [x for x in harness.lines() if x["message"] == "unexpected error in resolver"]
    assert logged["level"] == "ERROR" and logged["correlation_id"] == request_id
    assert "profile missing" in logged["exception"]

    errors = (await harness.metrics())["demobackend_errors_total"]
    assert value(errors, operation="Me", code="INTERNAL_SERVER_ERROR") == 1


async def test_rest_routes_log_and_count_too(harness: Harness) -> None:
    health = await harness.http.get("/healthz")
    missing = await harness.http.get("/no/such/path")
    line = harness.request_line(health)
    assert (line["route"], line["status"]) == ("/healthz", 200)
    assert "operation" not in line
    assert harness.request_line(missing)["error_codes"] == ["HTTP_404"]
    requests = (await harness.metrics())["demobackend_requests_total"]
    assert value(requests, route="/healthz", operation="none", status="200") == 1
    assert value(requests, route="unmatched", status="404") == 1


async def test_metrics_cardinality_stays_bounded(harness: Harness) -> None:
    for n in range(1000):  # distinct unnamed documents: one "anonymous" series
        await harness.graphql(f"{{ a{n}: __typename }}")
    for n in range(1000):  # distinct names: the first MAX_OPERATION_NAMES, then "other"
        await harness.graphql(f"query Op{n} {{ __typename }}")
    await harness.graphql("query Op1 { __typename }")  # an early name keeps its series

    requests = (await harness.metrics())["demobackend_requests_total"]
    operations = {labels["operation"] for labels, _ in requests}
    assert len(operations) <= MAX_OPERATION_NAMES + 3  # + anonymous, other, none
    assert value(requests, operation="anonymous") == 1000
    assert value(requests, operation="Op1") == 2
    assert value(requests, operation=OTHER) == 1000 - MAX_OPERATION_NAMES


async def test_correlation_ids_do_not_bleed_between_concurrent_requests(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, _ = await harness.signed_in()
    inner = logging.getLogger("demobackend.test")

    async def slow_lookup(info: Any, user_id: str) -> None:
        inner.warning("inside", extra={"seen_request_id": info.context.request_id})
        await asyncio.sleep(random.uniform(0, 0.01))  # let the other requests interleave
        inner.warning("inside", extra={"seen_request_id": info.context.request_id})
        return None

    monkeypatch.setattr("resolvers.query.resolve_user", slow_lookup)
    responses = await asyncio.gather(*(harness.graphql(ME, token) for _ in range(40)))
    request_ids = {response.headers["x-request-id"] for response in responses}
    assert len(request_ids) == 40

    lines = [line for line in harness.lines() if line.get("correlation_id") in request_ids]
    inside = [line for line in lines if "seen_request_id" in line]
    assert len(inside) == 80
    assert all(line["correlation_id"] == line["seen_request_id"] for line in inside)
    masked = [line for line in lines if line["message"] == "unexpected error in resolver"]
    assert len(masked) == 40
    assert all(line["correlation_id"] == line["request_id"] for line in masked)
    finished = [line for line in lines if line["message"] == "request"]
    assert {line["request_id"] for line in finished} == request_ids
    assert all(line["correlation_id"] == line["request_id"] for line in finished)
    # Nothing is left behind for the next request on this task.
    after = await harness.http.get("/healthz")
    assert harness.request_line(after)["correlation_id"] == after.headers["x-request-id"]


async def test_secrets_never_reach_the_logs(harness: Harness) -> None:
    token, _ = await harness.signed_in("mallory")
    created = await harness.graphql(
        CREATE_UPLOAD,
        token,
        input={"name": "n.txt", "contentType": "text/plain", "size": 5},
    )
    upload = created.json()["data"]["createUpload"]["upload"]
    url = urlsplit(upload["url"])
    signature = dict(part.split("=", 1) for part in url.query.split("&"))["signature"]
    put = await harness.http.put(
        f"{url.path}?{url.query}", content=b"hello", headers=upload["headers"]
    )
    assert put.status_code < 300, put.text
    line = harness.request_line(put)
    assert (line["route"], line["status"]) == ("/blobs/*", put.status_code)
    assert harness.request_line(created)["blob_presigns"] == 1

    logged = harness.captured + harness.capsys.readouterr().out
    assert len(signature) >= 16 and len(token) > 100
    for secret in (token, token.split(".")[2], PASSWORD, signature):
        assert secret not in logged
    assert "authorization" not in logged.lower() and "bearer" not in logged.lower()


REQUEST_LINE_KEYS = {
    # Powertools' keys and the request's correlation id, then _log_fields' fields.
    *("level", "location", "message", "timestamp", "service", "correlation_id"),
    *("request_id", "method", "route", "status", "latency_ms", "store_calls", "item_calls"),
    *("items_read", "blob_calls", "blob_presigns", "operation_name", "operation"),
    *("operation_type", "error_codes", "user", "search_ms", "lambda_request_id"),
}


async def test_the_request_line_holds_only_ids_figures_and_templates(harness: Harness) -> None:
    token, _ = await harness.signed_in("trent")
    for response in (
        await harness.graphql(ME, token),
        await harness.http.get("/healthz?token=abc&signature=def"),
        await harness.http.get("/no/such/path?X-Amz-Signature=abc"),
    ):
        line = harness.request_line(response)
        assert set(line) <= REQUEST_LINE_KEYS, set(line) - REQUEST_LINE_KEYS
        text = json.dumps(line)
        for forbidden in ("?", "=", "://", "token", "signature", "bearer", token[-20:]):
            assert forbidden not in text.lower(), (forbidden, text)
        assert line["route"] in {"/graphql", "/healthz", "unmatched"}


class _Filter(logging.Filter):
    pass


@pytest.mark.parametrize("trace_id", [None, "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"])
@pytest.mark.parametrize("another_filter", [False, True])  # True: the Powertools fallback
def test_the_fast_request_line_is_the_line_powertools_prints(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    trace_id: str | None,
    another_filter: bool,
) -> None:
    from api.observability.logs import (
        RequestLineWriter,
        begin_request,
        configure_logging,
        end_request,
    )

    if trace_id is not None:
        monkeypatch.setenv("_X_AMZN_TRACE_ID", trace_id)
    logger = configure_logging("INFO")
    writer = RequestLineWriter(logger)
    fields: dict[str, Any] = {
        "request_id": "r-1",
        "method": "POST",
        "route": "/graphql",
        "status": 200,
        "latency_ms": 1.23,
        "store_calls": 2,
        "operation_name": None,  # dropped, as Powertools drops None values
        "error_codes": ["NOT_FOUND"],
        "user": "0123456789abcdef",
        "search_ms": 0.5,
    }

    def emit(write: Any, **kwargs: Any) -> None:
        write("request", **kwargs)  # one call site: both lines have the same location

    filter_ = _Filter()
    if another_filter:
        logger.addFilter(filter_)
    # pytest attaches its capture handlers to non-propagating loggers too, which sends
    # every line through Powertools; take them off for this comparison.
    std = logging.getLogger(logger.name)
    handlers = std.handlers
    std.handlers = [h for h in handlers if type(h).__module__ != "_pytest.logging"]
    capsys.readouterr()
    begin_request(logger, correlation_id="c-1")
    try:
        assert (writer._handler() is None) is another_filter  # fast path unless a filter
        emit(writer.info, fields=fields)
        emit(logger.info, extra=fields)
        logger.setLevel("WARNING")  # below the level: neither writes
        emit(writer.info, fields=fields)
        emit(logger.info, extra=fields)
    finally:
        end_request(logger)
        std.handlers = handlers
        logger.removeFilter(filter_)
        logger.setLevel("INFO")
    fast, powertools = (json.loads(line) for line in capsys.readouterr().out.splitlines())

    assert list(fast) == list(powertools)  # same keys in the same order
    head = ["level", "location", "message", "timestamp", "service", "correlation_id"]
    assert list(fast)[:6] == head
    assert ("xray_trace_id" in fast) is (trace_id is not None)
    assert "operation_name" not in fast
    assert {**fast, "timestamp": None} == {**powertools, "timestamp": None}
    assert fast["location"].startswith("emit:")
    pattern = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}[+-]\d{4}"  # Powertools' default format
    assert re.fullmatch(pattern, fast["timestamp"]) and re.fullmatch(
        pattern, powertools["timestamp"]
    )
