"""Custom scalars of the contract: ``Long`` (sizes in bytes) and ``JSON`` (upload form fields
and headers). Registered through ``StrawberryConfig.scalar_map``, so resolvers annotate with
the NewTypes below and return plain ints and dicts.

Parse errors are raised as GraphQLError: graphql-core passes their message on, and the
error translation in resolvers/errors.py reports them as BAD_USER_INPUT, not as a masked
internal error.
"""

import math
import re
from collections.abc import Mapping
from typing import Any, NewType

import strawberry
from graphql.error import GraphQLError
from strawberry.types.scalar import ScalarDefinition

Long = NewType("Long", int)
JSON = NewType("JSON", object)

LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1
# Decimal digits only (no "+", "_", spaces or non-ASCII digits that int() would take).
_LONG_TEXT = re.compile(r"-?[0-9]{1,19}")


def serialize_long(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GraphQLError(f"Long cannot represent a non-integer value: {value!r}")
    return _in_long_range(value)


def parse_long(value: object) -> int:
    """Whole numbers, also as decimal text (clients whose numbers are doubles may send
    large sizes that way); never booleans or floats, not even 5.0."""
    if isinstance(value, str) and _LONG_TEXT.fullmatch(value):
        return _in_long_range(int(value))
    if isinstance(value, bool) or not isinstance(value, int):
        raise GraphQLError("Long must be a whole number")
    return _in_long_range(value)


def _in_long_range(value: int) -> int:
    if not LONG_MIN <= value <= LONG_MAX:
        raise GraphQLError("Long must fit in 64 bits")
    return value


def serialize_json(value: object) -> object:
    return _json_value(value)


def parse_json(value: object) -> object:
    return _json_value(value)


def _json_value(value: object, depth: int = 0) -> object:
    if depth > 32:
        raise GraphQLError("JSON value is nested too deeply")
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise GraphQLError("JSON cannot represent NaN or infinity")
        return value
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise GraphQLError("JSON object keys must be strings")
        return {key: _json_value(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(item, depth + 1) for item in value]
    raise GraphQLError(f"JSON cannot represent a {type(value).__name__}")


SCALAR_MAP: dict[object, ScalarDefinition] = {
    Long: strawberry.scalar(
        name="Long",
        description="A 64-bit signed integer, such as a size in bytes.",
        serialize=serialize_long,
        parse_value=parse_long,
    ),
    JSON: strawberry.scalar(
        name="JSON",
        description="Any JSON value.",
        serialize=serialize_json,
        parse_value=parse_json,
    ),
}


def as_json(mapping: Mapping[str, Any]) -> JSON:
    return JSON(dict(mapping))


__all__ = ["JSON", "SCALAR_MAP", "Long", "as_json"]
