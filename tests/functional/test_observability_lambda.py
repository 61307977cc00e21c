"""The Lambda path: an API Gateway v2 event through build_handler writes the request's log
line and CloudWatch EMF documents (Powertools Metrics) to stdout, with bounded dimensions."""

import json
from pathlib import Path
from typing import Any

import pytest

from api.lambda_handler import build_handler
from api.settings import load_settings
from tests.support.apigw_events import LambdaContext, http_api_event, response_json


def emf_documents(out: str) -> list[dict[str, Any]]:
    documents = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "DemoBackend"
            for dimension_set in directive["Dimensions"]:
                assert set(dimension_set) <= {"service", "route", "operation", "code"}
                assert all(name in document for name in dimension_set)
            for metric in directive["Metrics"]:
                assert metric["Name"] in document
    return documents


def test_emf_and_the_log_line_on_the_lambda_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = build_handler(load_settings(data_dir=tmp_path))
    capsys.readouterr()
    event = http_api_event(
        "POST", "/graphql", body={"query": "query Me { me { username } }"}, request_id="gw-7"
    )
    response = handler(event, LambdaContext())
    assert response_json(response)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    out = capsys.readouterr().out

    [main, by_code] = emf_documents(out)
    assert (main["service"], main["route"], main["operation"]) == ("demobackend", "/graphql", "Me")
    assert main["Requests"] == [1.0] and main["Errors"] == [1.0] and main["Faults"] == [0.0]
    assert main["InternalErrors"] == [0.0] and main["Unavailable"] == [0.0]
    assert main["Latency"][0] > 0 and main["StoreCalls"] == [0.0]
    assert (by_code["code"], by_code["ErrorsByCode"]) == ("UNAUTHENTICATED", [1.0])

    [line] = [json.loads(x) for x in out.splitlines() if '"message":"request"' in x]
    assert line["correlation_id"] == line["request_id"] == "gw-7"
    assert line["lambda_request_id"] == "lambda-req-1"


def test_emf_dimensions_stay_bounded_on_lambda(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = build_handler(load_settings(data_dir=tmp_path))
    operations = set()
    for n in range(120):
        for query in (f"query Op{n} {{ __typename }}", f"{{ a{n}: __typename }}"):
            event = http_api_event("POST", "/graphql", body={"query": query})
            assert handler(event, LambdaContext())["statusCode"] == 200
    handler(http_api_event("GET", "/files/123/whatever"), LambdaContext())
    for document in emf_documents(capsys.readouterr().out):
        operations.add(document["operation"])
        assert document["route"] in {"/graphql", "unmatched"}
        assert "user" not in document
    assert "anonymous" in operations and "other" in operations and "none" in operations
    assert len(operations) <= 50 + 3
