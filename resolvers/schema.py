"""The schema: one place that assembles types, root fields and extensions."""

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLObjectType, GraphQLResolveInfo
from graphql.error import GraphQLError
from strawberry.extensions import DisableIntrospection, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.types.field import StrawberryField

from resolvers.accounts.mutations import AccountMutations
from resolvers.accounts.queries import AccountQueries
from resolvers.errors import ErrorCodes, ErrorCodesWithoutSuggestions
from resolvers.extensions.document_cache import document_cache
from resolvers.extensions.metrics import OperationFigures
from resolvers.extensions.session_scope import SessionCheckScope
from resolvers.files.mutations import (
    FileChangeMutations,
    ShareLinkMutations,
    SharingMutations,
    UploadMutations,
)
from resolvers.files.subscriptions import FileSubscriptions
from resolvers.files.types import DIRECT_RESOLVERS, FileType
from resolvers.limits import QueryLimits, limit_extensions
from resolvers.operation_selection import OperationSelection
from resolvers.query import Query
from resolvers.scalars import SCALAR_MAP
from resolvers.users.mutations import ProfileMutations
from resolvers.users.types import UserType


@strawberry.type(name="Query")
class RootQuery(Query, AccountQueries):
    """The schema's Query type: every feature's queries in one."""


@strawberry.type
class Mutation(
    UploadMutations,
    FileChangeMutations,
    SharingMutations,
    ShareLinkMutations,
    ProfileMutations,
    AccountMutations,
):
    """The schema's Mutation type: every feature's mutations in one."""


@strawberry.type
class Subscription(FileSubscriptions):
    """The schema's Subscription type."""


class DemoSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # ErrorCodes logs unexpected errors once, with the request id; strawberry's default
        # would log every expected error (bad input, not found) with a traceback too.
        return None

    def _warn_for_federation_directives(self) -> None:
        # Strawberry imports its federation package (~4 ms of CPU, each cold start) only to
        # look for federation directives among the types' directives; where no type has a
        # directive at all there is nothing to look for, and the warning stays as it was.
        if any(type_.definition.directives for type_ in self.schema_converter.type_map.values()):
            super()._warn_for_federation_directives()


def build_schema(
    *, introspection: bool = True, limits: QueryLimits | None = None
) -> strawberry.Schema:
    # OperationFigures first: hooks exit in reverse, so it reads the codes ErrorCodes settled.
    # Without introspection, "Did you mean ..." suggestions would leak the schema too.
    codes = ErrorCodes if introspection else ErrorCodesWithoutSuggestions
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        OperationFigures,
        codes,
        # After ErrorCodes: a refusal it puts in the answer gets its code there.
        SessionCheckScope,
        *limit_extensions(limits or QueryLimits()),
        # Parse and validation per query text, remembered (resolvers/extensions/
        # document_cache.py says why that is safe here). Strawberry's ParserCache is not
        # used: it parses inside the extension, where the token limit's error escaped the
        # step that puts codes on errors.
        document_cache(),
        OperationSelection,  # after the cache: it reads the validation's errors
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    schema = DemoSchema(
        query=RootQuery,
        mutation=Mutation,
        subscription=Subscription,
        types=[UserType, FileType],
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
    )
    _resolve_directly(schema)
    return schema


def _resolve_directly(schema: DemoSchema) -> None:
    """graphql-core calls plain functions for the hottest fields, not Strawberry's wrappers
    (the page resolves ~100 fields): DIRECT_RESOLVERS, and every field that only reads an
    attribute, which Strawberry reaches through three calls (its wrapper, the field's
    get_result, the configured getattr). The schema and what each field answers are
    unchanged; a field with a resolver, permission classes or extensions keeps Strawberry's
    own path."""
    if schema.config.default_resolver is not getattr:
        raise TypeError("attribute fields are read with getattr")
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType):
            continue
        for field in graphql_type.fields.values():
            definition = field.extensions.get("strawberry-definition")
            basic = getattr(field.resolve, "__name__", "") == "_get_basic_result"
            if isinstance(definition, StrawberryField) and basic:
                field.resolve = _attribute(definition.python_name)
    for (type_name, field_name), resolver in DIRECT_RESOLVERS.items():
        object_type = schema._schema.get_type(type_name)
        if not isinstance(object_type, GraphQLObjectType):
            raise TypeError(f"{type_name} is not an object type")
        object_type.fields[field_name].resolve = resolver


def _attribute(name: str) -> Callable[[object, GraphQLResolveInfo[Any]], object]:
    def resolve(source: object, info: GraphQLResolveInfo[Any]) -> object:
        return getattr(source, name)

    return resolve


def schema_sdl() -> str:
    return build_schema().as_str() + "\n"


__all__ = ["build_schema", "schema_sdl"]
