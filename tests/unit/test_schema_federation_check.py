"""The schema skips Strawberry's federation-directive check (and the import it costs)
only when no type has any directive; a federation directive still gets Strawberry's
warning, so nothing a schema author would see changes."""

import warnings

import pytest
import strawberry
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet

from resolvers.schema import DemoSchema, build_schema


@strawberry.type(directives=[Key(fields=FieldSet("id"))])
class Keyed:
    id: strawberry.ID


@strawberry.type
class KeyedQuery:
    @strawberry.field
    def keyed(self) -> Keyed:
        return Keyed(id=strawberry.ID("1"))


def test_a_federation_directive_still_gets_strawberrys_warning() -> None:
    with pytest.warns(UserWarning, match="Federation directive found in schema"):
        DemoSchema(query=KeyedQuery)


def test_the_app_schema_builds_without_the_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_schema()
