"""One user's 64 parallel uploads through the real `demobackend serve` process, with every
item store call slowed on purpose (TEST_ITEM_STORE_DELAY_MS) so the requests overlap in
the store as they do on a loaded machine: on SQLite and on DynamoDB in moto's server.

None may fail for being concurrent: every upload within the quota succeeds, every refusal
is the quota's own error, the quota is never exceeded by a byte, and the user's usage is
exactly the sum of the sizes kept (checked as a user sees it: precisely the rest fits)."""

import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.aws_server import provision_aws_stack
from tests.support.file_client import FileClient, GraphQLFailed, dev_idp_token, sha256_hex
from tests.support.moto_server import transactions_in_flight
from tests.support.server_process import running_server

pytestmark = pytest.mark.slow

PARALLEL = {"sqlite": 64, "dynamodb": 64}
# On DynamoDB a transaction naming an item another one is still writing is cancelled
# (TransactionConflict), which moto never does: its server here holds each transaction's
# items for this long, as a loaded table would, and the uploads must survive that too.
IN_FLIGHT_SECONDS = 0.025
QUOTA = 200_000
DELAY_MS = "20"
SERVER_ENV = {
    "DEMOBACKEND_STORAGE_QUOTA_BYTES": str(QUOTA),
    "DEMOBACKEND_TEST_ITEM_STORE_DELAY_MS": DELAY_MS,
    "DEMOBACKEND_LOG_LEVEL": "WARNING",
    # The store is slowed on purpose and moto serves one transaction at a time, so on a
    # loaded machine a request can wait longer than the default 10 s deadline; what this
    # test checks is that contention never fails a request, not how fast it is answered.
    "DEMOBACKEND_REQUEST_TIMEOUT_SECONDS": "300",
    # moto's server answers DynamoDB calls one at a time, so with 64 uploads in flight a call
    # can wait its turn longer than the default 5 s; a lone counter ADD is then (rightly) not
    # repeated, which would fail the upload for the emulator's queue, not for contention.
    "DEMOBACKEND_AWS_READ_TIMEOUT_SECONDS": "120",
}


@dataclass
class Served:
    base_url: str
    token_for: Callable[[str], str]
    parallel: int

    def client(self, username: str) -> FileClient:
        # 64 requests queue behind one another in a slowed store (and, on DynamoDB, in
        # moto's server sharing this process): patience, not failure, is what is tested.
        return FileClient.over_http(self.base_url, self.token_for(username), timeout=180)


@pytest.fixture(scope="module")
def sqlite_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("sqlite-slow")
    with running_server(data_dir, **SERVER_ENV) as server:
        yield Served(
            server.base_url,
            lambda name: dev_idp_token(server.base_url, name),
            PARALLEL["sqlite"],
        )


@pytest.fixture(scope="module")
def dynamodb_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    stack = provision_aws_stack("parallel")
    data_dir = Path(tmp_path_factory.mktemp("dynamodb-slow"))
    with (
        running_server(data_dir, **stack.env, **SERVER_ENV) as server,
        transactions_in_flight(IN_FLIGHT_SECONDS),
    ):
        yield Served(server.base_url, stack.token_for, PARALLEL["dynamodb"])


@pytest.fixture(scope="module", params=["sqlite", "dynamodb"])
def served(request: pytest.FixtureRequest) -> Served:
    server: Served = request.getfixturevalue(f"{request.param}_served")
    return server


def upload(client: FileClient, size: int) -> str | None:
    """The whole upload as a browser does it; None when it worked, else the failure."""
    content = os.urandom(size)
    try:
        created = client.create_upload(
            "part.bin", "application/octet-stream", size, sha256=sha256_hex(content)
        )
        sent = client.send_bytes(created.target, content)
        if not sent.is_success:
            return f"bytes refused: {sent.status_code}"
        completed = client.complete_upload(created.file_id)
    except GraphQLFailed as failed:
        return "; ".join(
            f"{e.get('extensions', {}).get('code')}: {e['message']}" for e in failed.errors
        )
    return None if completed["status"] == "READY" else f"status {completed['status']}"


def upload_in_parallel(served: Served, username: str, sizes: list[int]) -> list[str | None]:
    clients = [served.client(username) for _ in sizes]
    try:
        with ThreadPoolExecutor(max_workers=len(sizes)) as pool:
            return list(pool.map(upload, clients, sizes))
    finally:
        for client in clients:
            client.close()


def assert_usage_is(served: Served, username: str, used: int) -> None:
    """As the user sees it: exactly QUOTA - used more bytes fit, one more does not."""
    with served.client(username) as client:
        if used < QUOTA:
            client.create_upload("rest.bin", "application/octet-stream", QUOTA - used)
        with pytest.raises(GraphQLFailed) as refused:
            client.create_upload("one.bin", "application/octet-stream", 1)
        assert refused.value.codes == ["BAD_USER_INPUT"]
        assert "storage quota exceeded" in str(refused.value)


def test_parallel_uploads_of_one_user_all_succeed(served: Served) -> None:
    username = f"folder-{uuid.uuid4().hex[:8]}"
    sizes = [1000 + 37 * n for n in range(served.parallel)]
    assert sum(sizes) < QUOTA

    failures = upload_in_parallel(served, username, sizes)

    assert [f for f in failures if f is not None] == []
    with served.client(username) as client:
        assert len(client.my_files(first=100)) == served.parallel
    assert_usage_is(served, username, sum(sizes))


def test_parallel_uploads_past_the_quota_never_exceed_it(served: Served) -> None:
    username = f"overflow-{uuid.uuid4().hex[:8]}"
    sizes = [QUOTA * 3 // (2 * served.parallel) + 61 * n for n in range(served.parallel)]
    assert sum(sizes) > QUOTA

    failures = upload_in_parallel(served, username, sizes)

    kept = [size for size, failure in zip(sizes, failures, strict=True) if failure is None]
    refused = [(size, f) for size, f in zip(sizes, failures, strict=True) if f is not None]
    assert refused and kept
    assert all(f.startswith("BAD_USER_INPUT: storage quota exceeded") for _, f in refused), refused
    used = sum(kept)
    assert used <= QUOTA
    # Usage only grew during the run, so each refused upload would still not fit.
    assert all(used + size > QUOTA for size, _ in refused)
    assert_usage_is(served, username, used)
