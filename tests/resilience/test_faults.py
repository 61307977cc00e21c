"""Faults injected between the real server (BACKEND=aws, AUTH_MODE=cognito) and moto's
server over HTTP (tests/support/fault_proxy.py): throttling, a DynamoDB that is down, a slow S3, a
JWKS endpoint that is down. Each answer is what a user would get: data, or
SERVICE_UNAVAILABLE within the deadline (503 + Retry-After), never a 500 or a hang."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ops.emulated_aws import EmulatedStack, provision, sign_in
from tests.support.fault_proxy import Fault, FaultProxy, fault_proxy
from tests.support.moto_server import (
    REGION,
    cognito_client,
    dynamodb_client,
    s3_client,
    shared_moto_server,
    unique_name,
)
from tests.support.server_process import RunningServer, running_server

DEADLINE = 1.5  # REQUEST_TIMEOUT_SECONDS of the servers below
SLACK = 0.5  # an answer's way back over loopback, JSON, logs
RESET = 1.0  # BREAKER_RESET_SECONDS
THRESHOLD = 5
PASSWORD = "correct-horse-battery-staple"
ME = "query Me { me { id username } }"
CREATE = """mutation Create($input: CreateUploadInput!) {
  createUpload(input: $input) { file { id size status } }
}"""


@dataclass
class Rig:
    stack: EmulatedStack
    proxy: FaultProxy
    server: RunningServer
    token: str
    http: httpx.Client  # keep-alive: timings are the server's, not new connections'

    def ask(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = self.http.post(
            f"{self.server.base_url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token or self.token}"},
            timeout=30,
        )
        return response, time.monotonic() - started

    def ready(self) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get(f"{self.server.base_url}/readyz", timeout=10).json()
        return body


@contextmanager
def rig(
    tmp_path: Path, *, warm: bool = True, faults: dict[str, Fault] | None = None
) -> Iterator[Rig]:
    endpoint = shared_moto_server()
    stack = provision(
        dynamodb=dynamodb_client(endpoint),
        s3=s3_client(endpoint),
        cognito=cognito_client(endpoint),
        name=unique_name("faults"),
        region=REGION,
    )
    tokens = sign_in(
        cognito_client(endpoint),
        pool_id=stack.user_pool_id,
        client_id=stack.client_id,
        username="ada",
        password=PASSWORD,
    )
    data_dir = tmp_path / "data"
    data_dir.mkdir(parents=True)
    with fault_proxy(endpoint) as proxy:
        for target, fault in (faults or {}).items():
            proxy.inject(target, fault)
        env = {
            **stack.settings_env(proxy.endpoint, REGION),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "DEMOBACKEND_REQUEST_TIMEOUT_SECONDS": str(DEADLINE),
            "DEMOBACKEND_BREAKER_RESET_SECONDS": str(RESET),
            "DEMOBACKEND_BREAKER_FAILURE_THRESHOLD": str(THRESHOLD),
        }
        with running_server(data_dir, **env) as server, httpx.Client(trust_env=False) as http:
            ready = Rig(stack, proxy, server, tokens.id_token, http)
            # The first request is cold (imports, clients, the JWKS fetch): on a busy
            # machine it may outlast the short deadline these tests use.
            for _ in range(10 if warm else 0):
                if ready.ask(ME)[0].status_code == 200:
                    break
            yield ready


def code_of(response: httpx.Response) -> str | None:
    errors = response.json().get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert code_of(response) == "SERVICE_UNAVAILABLE"
    assert int(response.headers["Retry-After"]) >= 1


def upload_input(n: int) -> dict[str, Any]:
    return {"input": {"name": f"f{n}.txt", "contentType": "text/plain", "size": 1000 + n}}


def raw_id(global_id: str) -> str:
    """The file id inside a global id ("File:<id>", base64url)."""
    padded = global_id + "=" * (-len(global_id) % 4)
    return base64.urlsafe_b64decode(padded).decode().removeprefix("File:")


def stored(rig: Rig) -> list[dict[str, Any]]:
    client = dynamodb_client(shared_moto_server())
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=rig.stack.table_name):
        items += page["Items"]
    return items


def test_a_third_of_dynamodb_calls_throttled_or_answers_lost(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        assert r.ask(ME)[0].status_code == 200  # the profile exists before the faults
        created: dict[str, int] = {}
        outcomes: list[str] = []
        # 30 % throttled (never applied), then 30 % of writes applied with the answer lost.
        for phase, (target, fault) in enumerate(
            (
                ("dynamodb", Fault("throttle", rate=0.3)),
                ("dynamodb:TransactWriteItems", Fault("lose_response", rate=0.3)),
            )
        ):
            r.proxy.clear()
            r.proxy.inject(target, fault)
            for n in range(10):
                response, took = r.ask(CREATE, upload_input(phase * 100 + n))
                assert took < DEADLINE + SLACK
                if response.status_code == 200 and not response.json().get("errors"):
                    file = response.json()["data"]["createUpload"]["file"]
                    created[raw_id(file["id"])] = file["size"]
                    outcomes.append("ok")
                else:
                    assert_unavailable(response)
                    outcomes.append("unavailable")
        r.proxy.clear()
        assert sum(r.proxy.faulted.values()) >= 5  # the faults did happen
        assert outcomes.count("ok") >= 10

        items = stored(r)
        files = {
            item["pk"]["S"].removeprefix("FILE#"): int(item["size"]["N"])
            for item in items
            if item["pk"]["S"].startswith("FILE#") and item["sk"]["S"] == "META"
        }
        usage = next(item for item in items if item["sk"]["S"] == "USAGE")
        reserved = {
            item["file_id"]["S"]: int(item["size"]["N"])
            for item in items
            if item["sk"]["S"].startswith("RESERVATION#")
        }
        # No lost write: every file a user was told about exists. No doubled write: the
        # quota reserves each stored file exactly once, at its size, and nothing else. The
        # usage counter is a lone ADD made before the file (domain/files/deps.count_usage),
        # not repeated when its answer is lost: such a createUpload fails with its bytes
        # still counted, so usage may be too high (recount-usage corrects it), never low.
        assert set(created) <= set(files)
        assert reserved == files
        assert int(usage["used_bytes"]["N"]) >= sum(files.values())
        assert int(usage["pending_uploads"]["N"]) >= len(files)
        failed_creates = len(outcomes) - outcomes.count("ok")
        assert int(usage["pending_uploads"]["N"]) - len(files) <= failed_creates


def test_dynamodb_down_opens_the_breaker_then_recovers_by_itself(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        assert r.ask(ME)[0].status_code == 200
        r.proxy.inject("dynamodb", Fault("reset"))
        answers = 0
        while r.ready()["breakers"]["items"] != "open":
            response, took = r.ask(ME)
            assert_unavailable(response)
            assert took < DEADLINE + SLACK
            answers += 1
            assert answers <= THRESHOLD, "the breaker did not open"
        assert r.ready()["status"] == "unavailable"

        sent = r.proxy.calls("dynamodb")
        took_each = []
        for _ in range(10):
            response, took = r.ask(ME)
            assert_unavailable(response)
            took_each.append(took)
        assert sorted(took_each)[5] < 0.05  # failed fast (the median; CI machines are noisy)
        assert r.proxy.calls("dynamodb") == sent  # without calling DynamoDB

        r.proxy.clear()  # DynamoDB is back
        time.sleep(RESET + 0.1)
        response, _ = r.ask(ME)  # the half-open trial
        assert response.status_code == 200 and response.json()["data"]["me"]["username"]
        assert r.ready()["breakers"]["items"] == "closed"
        assert "circuit breaker items: closed -> open" in r.server.output()


def test_slow_s3_presigning_works_reads_fail_within_the_deadline(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        assert r.ask(ME)[0].status_code == 200
        r.proxy.inject("s3", Fault("latency", seconds=2.0))
        response, took = r.ask(CREATE, upload_input(1))
        assert response.status_code == 200 and not response.json().get("errors")
        assert took < DEADLINE  # a single S3 call would have taken 2 s
        assert r.proxy.calls("s3") == 0  # presigning needs no network
        file_id = response.json()["data"]["createUpload"]["file"]["id"]

        complete = "mutation C($id: ID!) { completeUpload(id: $id) { id status } }"
        response, took = r.ask(complete, {"id": file_id})  # needs HeadObject
        assert_unavailable(response)
        assert took < DEADLINE + SLACK
        assert r.proxy.calls("s3") >= 1


def test_jwks_down_cached_keys_keep_working_uncached_is_unauthenticated(
    tmp_path: Path,
) -> None:
    with rig(tmp_path) as r:
        assert r.ask(ME)[0].status_code == 200  # keys fetched and cached
        r.proxy.inject("jwks", Fault("reset"))
        for _ in range(3):
            response, _ = r.ask(ME)
            assert response.status_code == 200 and response.json()["data"]["me"]
    with rig(tmp_path / "cold", warm=False, faults={"jwks": Fault("error")}) as r:
        for _ in range(3):
            response, took = r.ask(ME)
            assert response.status_code in (200, 401, 503), response.text
            assert code_of(response) in ("UNAUTHENTICATED", "SERVICE_UNAVAILABLE")
            assert took < DEADLINE + SLACK
        assert r.proxy.calls("jwks") >= 1
