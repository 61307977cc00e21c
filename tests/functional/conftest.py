import pytest

from tests.support.schema_client import SchemaClient


@pytest.fixture
def client() -> SchemaClient:
    return SchemaClient()
