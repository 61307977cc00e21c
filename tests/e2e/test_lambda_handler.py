"""The Lambda entry point answers API Gateway HTTP API v2 events with the same app."""

from pathlib import Path

import pytest

from api import lambda_handler
from tests.support.apigw_events import LambdaContext, http_api_event, local_id_token, response_json


@pytest.fixture
def local_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DEMOBACKEND_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(lambda_handler, "_handler", None)
    return tmp_path


def test_me_through_an_http_api_event(local_env: Path) -> None:
    token = local_id_token("dora")
    event = http_api_event(
        "POST",
        "/graphql",
        body={"query": "{ me { username } }"},
        headers={"authorization": f"Bearer {token}"},
        request_id="apigw-req-42",
    )
    response = lambda_handler.handler(event, LambdaContext())
    assert response["statusCode"] == 200
    assert response_json(response) == {"data": {"me": {"username": "dora"}}}
    assert response["headers"]["x-request-id"] == "apigw-req-42"


def test_errors_carry_api_gateways_request_id(local_env: Path) -> None:
    event = http_api_event("POST", "/graphql", body={"query": "{ me { username } }"})
    response = lambda_handler.handler(event, LambdaContext())
    error = response_json(response)["errors"][0]
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "requestId": "apigw-req-1"}


def test_health_through_the_handler(local_env: Path) -> None:
    response = lambda_handler.handler(http_api_event("GET", "/healthz"), LambdaContext())
    assert (response["statusCode"], response_json(response)) == (200, {"status": "ok"})
