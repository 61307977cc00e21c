from collections.abc import Iterator

import pytest

from tests.support.aws_stores import open_aws_stores
from tests.support.backends import LOCAL, parametrize_backend
from tests.support.schema_client import SchemaClient

pytest_generate_tests = parametrize_backend


@pytest.fixture
def client(backend: str) -> Iterator[SchemaClient]:
    """The schema over the in-memory stores, or over DynamoDB + S3 on moto's server (a fresh
    table and bucket per test, dropped after it)."""
    if backend == LOCAL:
        yield SchemaClient()
        return
    with open_aws_stores() as stores:
        yield SchemaClient(aws=stores)
