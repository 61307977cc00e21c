"""The composition root's boto3 clients: Cognito's and Lambda's are made on first use, once."""

from typing import Any

import pytest

from api import aws_clients
from api.settings import Settings


@pytest.mark.parametrize(
    ("make", "service"),
    [(aws_clients.cognito_client, "cognito-idp"), (aws_clients.lambda_client, "lambda")],
)
def test_the_client_is_created_on_first_use_only(
    aws_settings: Settings, make: Any, service: str
) -> None:
    before = len(aws_clients.created_clients())
    try:
        client = make(aws_settings)
        assert len(aws_clients.created_clients()) == before
        assert client.meta.service_model.service_name == service
        assert client.meta.region_name == aws_settings.aws_region
        made = aws_clients.created_clients()[before:]
        assert len(made) == 1
        # Every later use goes to that same client.
        assert client.exceptions is made[0].exceptions
        assert len(aws_clients.created_clients()) == before + 1
    finally:
        del aws_clients._created[before:]
