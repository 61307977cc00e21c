"""A DynamoDB Stream record, as Lambda delivers it, decoded into the port's items."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.items.dynamodb.codec import from_attributes
from domain.errors import InvalidInputError
from domain.realtime import StreamChange


def decode_stream_record(record: Any) -> StreamChange:
    """Raises InvalidInputError for a record that is not a DynamoDB Stream record with
    images (the function's event source mapping sets NEW_AND_OLD_IMAGES)."""
    body = record.get("dynamodb") if isinstance(record, Mapping) else None
    if not isinstance(body, Mapping) or not isinstance(body.get("SequenceNumber"), str):
        raise InvalidInputError("Not a DynamoDB Stream record")
    old, new = body.get("OldImage"), body.get("NewImage")
    for image in (old, new):
        if image is not None and not isinstance(image, Mapping):
            raise InvalidInputError("A stream record's image is not a map")
    at = body.get("ApproximateCreationDateTime")
    return StreamChange(
        sequence=body["SequenceNumber"],
        old=from_attributes(dict(old)) if old is not None else None,
        new=from_attributes(dict(new)) if new is not None else None,
        at=float(at) if isinstance(at, int | float) else None,
    )
