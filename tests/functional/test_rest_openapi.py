"""GET /rest/openapi.json: a valid OpenAPI 3.1 document that covers every /rest route, and
(slow) a schemathesis run against the live local server: bounded generated requests per
operation, none may answer 5xx or anything the document does not describe."""

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.routing import Mount, Route

from api.app import build_app
from api.bootstrap import build_deps
from api.openapi import openapi_document
from api.settings import load_settings
from tests.support.file_client import FileClient, dev_idp_token
from tests.support.rest import Rest, open_rest
from tests.support.server_process import running_server

MAX_EXAMPLES = 25
TIME_BUDGET_SECONDS = 240.0


@pytest.fixture
async def rest(tmp_path: Path) -> AsyncIterator[Rest]:
    async with open_rest(tmp_path) as rest:
        yield rest


async def test_the_served_document_is_valid_openapi_3_1(rest: Rest) -> None:
    response = await rest.http.get("/rest/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1.")
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema
    assert document == openapi_document()


def test_a_broken_document_is_caught() -> None:
    """The validator used above does reject a document that is wrong."""
    document = openapi_document()
    document["paths"]["/rest/me"]["get"]["responses"]["200"] = {"content": {}}  # no description
    with pytest.raises(Exception, match="description"):
        validate(document)


def test_every_rest_route_and_method_is_described(tmp_path: Path) -> None:
    deps = build_deps(load_settings(data_dir=tmp_path))
    app = build_app(deps.settings, deps, observe=False)
    rest_mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/rest")
    served = {
        (f"/rest{route.path}", method.lower())
        for route in rest_mount.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    paths = openapi_document()["paths"]
    described = {(path, method) for path, item in paths.items() for method in item}
    assert served == described
    for path, item in paths.items():
        for method, operation in item.items():
            assert operation["responses"], (path, method)
            # completeUpload takes a body only for a multipart upload; abortUpload none.
            if method in ("post", "patch") and not path.endswith(("/complete", "/abort")):
                assert "requestBody" in operation, (path, method)


# --- schemathesis against the live server -------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    # WARNING: one INFO line per request would fill the unread stdout pipe and stall it.
    data_dir = tmp_path_factory.mktemp("rest-live")
    with running_server(data_dir, DEMOBACKEND_LOG_LEVEL="WARNING") as server:
        token = dev_idp_token(server.base_url, "fuzzer")
        with FileClient.over_http(server.base_url, token) as files:
            ready = files.upload("seed.txt", "text/plain", b"seed bytes")
        yield {"base_url": server.base_url, "token": token, "file_id": ready["id"]}


@pytest.mark.slow
def test_schemathesis_finds_no_5xx_and_no_undocumented_response(live: dict[str, Any]) -> None:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.result import Ok
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    base_url = live["base_url"]
    document = httpx.get(f"{base_url}/rest/openapi.json", timeout=10).json()
    document["servers"] = [{"url": base_url}]
    schema = schemathesis.openapi.from_dict(document)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    headers = {"Authorization": f"Bearer {live['token']}"}
    started = time.monotonic()
    ran: list[str] = []

    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            pytest.fail(f"schemathesis could not read an operation: {result}")
        operation = result.ok()
        # Random ids mostly reach the 400 "Invalid id" path; a real file id reaches the rest.
        strategies = [operation.as_strategy()]
        if "{id}" in operation.path and "/users/" not in operation.path:
            strategies.append(operation.as_strategy(path_parameters={"id": live["file_id"]}))
        for strategy in strategies:
            if time.monotonic() - started > TIME_BUDGET_SECONDS:
                pytest.fail(f"time budget spent after {len(ran)} runs: {ran}")

            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def run(case: Any) -> None:
                case.call_and_validate(
                    base_url=base_url, headers=headers, checks=checks, allow_redirects=False
                )

            run()
            ran.append(operation.label)
    assert len(ran) >= 12, ran
