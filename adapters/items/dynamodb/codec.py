"""Items to DynamoDB attribute values and back, exactly: ints stay ints (never floats),
lists stay "L" lists, and anything the port does not allow is refused on the way back."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from adapters.items.dynamodb.retry import UNAVAILABLE
from domain.errors import StoreUnavailableError
from domain.ports import Item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    Attributes = dict[str, AttributeValueTypeDef]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_attributes(item: Item) -> Attributes:
    """Serialise an item that check_write_batch has accepted (so: no floats, no sets)."""
    return {name: _serializer.serialize(value) for name, value in item.items()}


def from_attributes(attributes: Attributes) -> Item:
    return {name: _plain(_deserializer.deserialize(value)) for name, value in attributes.items()}


def key_attributes(pk: str, sk: str) -> Attributes:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, Decimal):
        number = int(value)
        if number != value:  # written by something else: the port has no fractions
            raise StoreUnavailableError(UNAVAILABLE)
        return number
    if isinstance(value, list):
        return [_plain(element) for element in value]
    if isinstance(value, dict):
        return {name: _plain(element) for name, element in value.items()}
    # Sets and binary values: never written through the port, so not readable through it.
    raise StoreUnavailableError(UNAVAILABLE)
