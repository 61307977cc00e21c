"""The /graphql answer's JSON: orjson's text where it equals json.dumps's, json's elsewhere."""

import json

import pytest

from api.graphql_view import DemoGraphQL


def _encode(data: object) -> str:
    # encode_json reads nothing of the view's state.
    return DemoGraphQL.encode_json(object.__new__(DemoGraphQL), data)


@pytest.mark.parametrize(
    "data",
    [
        {"data": {"myFiles": {"edges": [{"node": {"id": "RmlsZTox", "size": 42}}] * 3}}},
        {"data": {"me": {"username": "héllo wörld € 😀", "quote": '"\\\n\u0000\u2028'}}},
        {"data": {"size": 2**64, "nested": [{"n": -(10**30)}]}},
        {"data": None, "errors": [{"message": "x", "extensions": {"code": "BAD_USER_INPUT"}}]},
        {"data": {"flag": True, "nothing": None, "list": [], "map": {}}},
    ],
    ids=["ascii", "non-ascii", "beyond-64-bits", "errors", "literals"],
)
def test_the_answer_is_json_dumps_byte_for_byte(data: object) -> None:
    encoded = _encode(data)
    assert isinstance(encoded, str)  # subscriptions send it as a text frame
    assert encoded == json.dumps(data, separators=(",", ":"))


def test_floats_are_the_same_numbers() -> None:
    scores = [0.5, 1e-05, 2.5e-07, 12345.678901, 1e16, -0.0]
    assert json.loads(_encode({"scores": scores})) == {"scores": scores}
