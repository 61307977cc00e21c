"""The schema's hottest fields are resolved by plain functions graphql-core calls directly
(resolvers/schema.py). The detection of Strawberry's attribute-only fields leans on how
Strawberry builds them; if an upgrade changes that, answers stay right but every page
gets slower again without a word, so these tests say so instead."""

from graphql import GraphQLObjectType

from resolvers.files.types import owner_resolver
from resolvers.schema import build_schema


def _file_type() -> GraphQLObjectType:
    file_type = build_schema()._schema.get_type("File")
    assert isinstance(file_type, GraphQLObjectType)
    return file_type


def test_attribute_fields_of_a_file_are_read_directly() -> None:
    fields = _file_type().fields
    for name in ("name", "size"):
        resolve = fields[name].resolve
        assert resolve is not None
        assert resolve.__qualname__ == "_attribute.<locals>.resolve", name


def test_a_files_owner_is_resolved_without_strawberrys_wrapper() -> None:
    assert _file_type().fields["owner"].resolve is owner_resolver


def test_fields_with_arguments_keep_strawberrys_path() -> None:
    query = build_schema()._schema.query_type
    assert query is not None
    resolve = query.fields["myFiles"].resolve
    assert resolve is not None
    assert resolve.__qualname__ != "_attribute.<locals>.resolve"
