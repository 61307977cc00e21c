"""Errors at the GraphQL boundary: every error gets ``extensions.code`` and
``extensions.requestId``; anything unexpected is masked and logged with the request id."""

import logging
import re
from collections.abc import Iterator

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.error import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult

from domain.errors import DomainError, StoreUnavailableError
from resolvers.limits import TOO_COMPLEX_CODE, is_limit_error

logger = logging.getLogger("demobackend.graphql")

INTERNAL_MESSAGE = "Internal server error"
INTERNAL_CODE = "INTERNAL_SERVER_ERROR"
BAD_INPUT_CODE = "BAD_USER_INPUT"
QUERY_TOO_COMPLEX_CODE = TOO_COMPLEX_CODE
_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)


class ErrorCodes(SchemaExtension):
    hide_suggestions = False

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if not isinstance(result, GraphQLExecutionResult | ExecutionResult) or not result.errors:
            return
        context = self.execution_context.context
        request_id = str(getattr(context, "request_id", "") or "")
        result.errors = [self._translate(error, request_id) for error in result.errors]

    def _translate(self, error: GraphQLError, request_id: str) -> GraphQLError:
        original = error.original_error
        extensions = dict(error.extensions or {})
        message = error.message
        if isinstance(original, DomainError) and not isinstance(original, StoreUnavailableError):
            extensions["code"] = original.code
        elif original is None or isinstance(original, GraphQLError):
            # Parse, validation and variable errors (no path), or errors raised as
            # GraphQLError on purpose (permissions, limits) that already carry a code.
            if original is None and is_limit_error(error):
                extensions["code"] = QUERY_TOO_COMPLEX_CODE
            extensions.setdefault("code", BAD_INPUT_CODE)
            if self.hide_suggestions:
                message = _SUGGESTION.sub("", message)
        else:
            logger.error(
                "unexpected error in resolver",
                exc_info=original,
                extra={"request_id": request_id, "path": error.path},
            )
            message = INTERNAL_MESSAGE
            extensions = {"code": INTERNAL_CODE}
        extensions["requestId"] = request_id
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=original if isinstance(original, DomainError) else None,
            extensions=extensions,
        )


class ErrorCodesWithoutSuggestions(ErrorCodes):
    """For a schema without introspection: "Did you mean ..." would reveal field names."""

    hide_suggestions = True
