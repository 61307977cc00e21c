"""Fixtures shared by the unit tests."""

import pytest

from api.settings import Settings, load_settings


@pytest.fixture
def aws_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The AWS composition's settings, pointed at an endpoint nothing listens on: for tests
    that build the composition root's clients and never call them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return load_settings(
        backend="aws",
        bucket="bucket",
        auth_mode="cognito",
        cognito_user_pool_id="us-east-1_pool",
        cognito_client_ids=("client",),
        cursor_secret="0" * 64,
        aws_endpoint_url="http://127.0.0.1:9",  # never called
    )
