"""One ItemStore contract, run against every implementation.

To add an implementation (say "dynamodb-moto"), write an async context manager that takes
pytest's ``tmp_path``, yields a ready and empty store, and cleans up after itself; then add
one ``StoreBackend`` to ``BACKENDS``. Give it ``marks=(pytest.mark.slow,)`` if it starts a
server. Every test that asks for ``item_store`` then runs against it too.
"""

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from moto import mock_aws

from adapters.items.dynamodb.store import DynamoDbItemStore
from adapters.items.memory import InMemoryItemStore
from adapters.items.sqlite import SqliteItemStore
from domain.ports import ItemStore
from ops.aws_resources import create_table
from tests.support.moto_server import dynamodb_client, shared_moto_server, unique_name


@asynccontextmanager
async def memory_store(tmp_path: Path) -> AsyncIterator[ItemStore]:
    yield InMemoryItemStore()


@asynccontextmanager
async def sqlite_store(tmp_path: Path) -> AsyncIterator[ItemStore]:
    store = SqliteItemStore(tmp_path / "items.sqlite3")
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def dynamodb_moto_store(tmp_path: Path) -> AsyncIterator[ItemStore]:
    """DynamoDB in-process: moto answers boto3's calls without any HTTP."""
    with mock_aws():
        client = dynamodb_client()
        create_table(client, "items")
        try:
            yield DynamoDbItemStore(client, "items")
        finally:
            client.close()


@asynccontextmanager
async def dynamodb_moto_server_store(tmp_path: Path) -> AsyncIterator[ItemStore]:
    """DynamoDB over real HTTP: the process's one moto server, a fresh table per test."""
    client = dynamodb_client(shared_moto_server())
    table = unique_name("items")
    create_table(client, table)
    try:
        yield DynamoDbItemStore(client, table)
    finally:
        client.delete_table(TableName=table)
        client.close()


@dataclass(frozen=True)
class StoreBackend:
    name: str
    open: Callable[[Path], AbstractAsyncContextManager[ItemStore]]
    marks: Sequence[pytest.MarkDecorator] = ()


BACKENDS: list[StoreBackend] = [
    StoreBackend("memory", memory_store),
    StoreBackend("sqlite", sqlite_store),
    StoreBackend("dynamodb-moto", dynamodb_moto_store),
    StoreBackend("dynamodb-moto-server", dynamodb_moto_server_store, marks=(pytest.mark.slow,)),
]


@pytest.fixture(
    params=[pytest.param(backend, id=backend.name, marks=backend.marks) for backend in BACKENDS]
)
async def item_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ItemStore]:
    backend: StoreBackend = request.param
    async with backend.open(tmp_path) as store:
        yield store
