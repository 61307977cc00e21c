"""Which operation of a document runs: the GraphQL spec's GetOperation.

A document with several operations needs an ``operationName``. Strawberry, given none,
runs the document's first operation; the spec makes that a request error, so a client
that forgot the name learns it instead of getting an answer to a question it may not
have meant. An ``operationName`` naming no operation is refused by the HTTP view (Strawberry
raises before any extension runs).
"""

from collections.abc import Iterator

from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

BAD_REQUEST_CODE = "BAD_REQUEST"
OPERATION_NAME_REQUIRED = (
    "operationName is required: the document has {count} operations, name the one to run"
)


class OperationSelection(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        # Before the yield: Strawberry reads the errors as soon as the hooks are entered.
        # Listed after the document cache, which has validated by then.
        self._check()
        yield

    def _check(self) -> None:
        context = self.execution_context
        if context.pre_execution_errors or context.graphql_document is None:
            return  # an invalid document is refused for that first, as the spec orders it
        # The name as the request gave it: ``operation_name`` falls back to the first
        # operation's, which is exactly the guess this extension refuses to make.
        requested = getattr(context, "_provided_operation_name", None)
        if requested is not None:
            return
        count = sum(
            isinstance(definition, OperationDefinitionNode)
            for definition in context.graphql_document.definitions
        )
        if count > 1:
            context.pre_execution_errors = [
                GraphQLError(
                    OPERATION_NAME_REQUIRED.format(count=count),
                    extensions={"code": BAD_REQUEST_CODE},
                )
            ]


__all__ = ["BAD_REQUEST_CODE", "OperationSelection"]
