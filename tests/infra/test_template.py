"""infra/template.yaml keeps its security and shape properties (tests/infra/checks.py)."""

import pytest

from tests.infra.cfn import load_template
from tests.infra.checks import CHECKS, Check, http_api_routes


@pytest.mark.parametrize("check", CHECKS.values(), ids=CHECKS.keys())
def test_template_property(check: Check) -> None:
    assert check(load_template()) == []


def test_the_data_routes_need_a_token_and_the_playground_does_not() -> None:
    routes = http_api_routes(load_template())
    assert routes[("POST", "/graphql")] == "CognitoJwt"
    assert routes[("GET", "/rest/{proxy+}")] == "CognitoJwt"
    assert routes[("GET", "/graphql")] == "NONE"
    assert routes[("GET", "/healthz")] == "NONE"
