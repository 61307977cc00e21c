"""Which response media type an Accept header gets (GraphQL over HTTP), header by header."""

import pytest
from graphql import GraphQLError

from api.graphql_media import GRAPHQL_RESPONSE_JSON, JSON, negotiate, request_error_status


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        ("Application/JSON; charset=utf-8", JSON),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0.9, application/json", JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0, */*", JSON),
        ("text/html, */*;q=0.8", JSON),  # a browser's navigation
        ("text/html", None),
        ("application/xml, text/plain", None),
        ("application/json;q=0", None),
        ("application/json;q=nan", None),
        ("application/json;q=2", None),
        ("application/json;q=abc", None),
        (",,,;;;", None),
    ],
)
def test_negotiate(accept: str | None, expected: str | None) -> None:
    assert negotiate(accept) == expected


def test_a_field_error_nulling_all_data_is_not_a_request_error() -> None:
    field_error = GraphQLError("boom", path=["me"], extensions={"code": "UNAUTHENTICATED"})
    assert request_error_status(None, [field_error]) is None
    assert request_error_status({"me": None}, [field_error]) is None
    assert request_error_status({"me": {"id": "1"}}, None) is None


def test_request_errors_are_400_unless_we_failed() -> None:
    parse = GraphQLError("Syntax Error", extensions={"code": "BAD_USER_INPUT"})
    assert request_error_status(None, [parse]) == 400
    ours = GraphQLError("Internal server error", extensions={"code": "INTERNAL_SERVER_ERROR"})
    assert request_error_status(None, [ours]) == 500
