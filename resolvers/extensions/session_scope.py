"""Scopes a request's sign-out check (resolvers/session_check.py) to its GraphQL operation.

While the operation runs, item-store calls go through the request's check. A mutation is
checked before it executes, by the check's own read: it may call the identity provider or
the blob store before any item, and nothing it does may happen for a voided session. An
operation that made no store call is checked when it ends. Whenever the check refuses the
caller, the whole answer becomes that refusal: no field's data leaves, not even one that
needed no store call.
"""

from collections.abc import AsyncIterator

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult
from strawberry.types.graphql import OperationType

from resolvers.session_check import SessionCheck, checking


class SessionCheckScope(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:
        check: SessionCheck | None = getattr(self.execution_context.context, "session_check", None)
        if check is None:
            yield
            return
        with checking(check):
            yield
            # Most operations read the store, which made the check: nothing to wait for.
            failure = None if check.passed else await _settled(check)
        if failure is not None:
            result = self.execution_context.result
            if isinstance(result, GraphQLExecutionResult | ExecutionResult):
                result.data, result.errors = None, _refusal(failure).errors

    async def on_execute(self) -> AsyncIterator[None]:
        check: SessionCheck | None = getattr(self.execution_context.context, "session_check", None)
        if check is not None and self.execution_context.operation_type is OperationType.MUTATION:
            with checking(check):
                failure = await _settled(check)
            if failure is not None:
                # A result set before execution stands in for it: the mutation never runs.
                self.execution_context.result = _refusal(failure)
        yield


async def _settled(check: SessionCheck) -> Exception | None:
    try:
        await check.wait()
    except Exception as error:  # a refusal, or the store's failure: either way, no answer
        return error
    return None


def _refusal(failure: Exception) -> ExecutionResult:
    return ExecutionResult(data=None, errors=[GraphQLError(str(failure), original_error=failure)])
