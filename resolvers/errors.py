"""Errors at the GraphQL boundary: every error gets ``extensions.code`` and
``extensions.requestId``; anything unexpected is masked and logged with the request id."""

import logging
import re
import traceback
from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.error import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult

from domain.errors import DomainError, ServiceUnavailableError, StoreUnavailableError
from resolvers.limits import TOO_COMPLEX_CODE, is_limit_error

logger = logging.getLogger("demobackend.graphql")

INTERNAL_MESSAGE = "Internal server error"
INTERNAL_CODE = "INTERNAL_SERVER_ERROR"
BAD_INPUT_CODE = "BAD_USER_INPUT"
QUERY_TOO_COMPLEX_CODE = TOO_COMPLEX_CODE
_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)
# Secrets an exception's text may carry (a driver echoing a request, a URL in a message):
# JWTs, bearer credentials and URL signature parameters. Logs keep everything else.
_SECRETS = (
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.?[A-Za-z0-9_-]*"), "[REDACTED-JWT]"),
    (re.compile(r"(?i)\b(bearer\s+)[^\s'\",;]+"), r"\1[REDACTED]"),
    (
        re.compile(
            r"(?i)\b(x-amz-signature|x-amz-credential|x-amz-security-token|signature)"
            r"=[^&\s'\"]+"
        ),
        r"\1=[REDACTED]",
    ),
)


def redact_secrets(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def log_masked_error(
    log: logging.Logger, message: str, error: BaseException, request_id: str, **fields: Any
) -> None:
    """Log a masked error once, with its request id and its traceback, secrets redacted.

    The traceback goes in as the ``exception`` field (the key Powertools' JSON formatter
    would fill from ``exc_info``), because ``exc_info`` would be printed as it is: a
    token inside the exception's message would reach the log.
    """
    text = "".join(traceback.format_exception(error))
    log.error(
        message,
        extra={
            "request_id": request_id,
            "exception": redact_secrets(text),
            "exception_name": type(error).__name__,
            **fields,
        },
    )


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
        return translate_error(error, request_id, hide_suggestions=self.hide_suggestions)


class ErrorCodesWithoutSuggestions(ErrorCodes):
    """For a schema without introspection: "Did you mean ..." would reveal field names."""

    hide_suggestions = True


def translate_error(
    error: GraphQLError, request_id: str, *, hide_suggestions: bool
) -> GraphQLError:
    """The error as clients see it: a code, the request id, unexpected errors masked.
    Also used for subscription events, which the operation hooks do not see."""
    original = error.original_error
    extensions = dict(error.extensions or {})
    message = error.message
    if isinstance(original, ServiceUnavailableError):
        # Our own words (deadline, breaker, busy store), never a driver's: shown as is.
        extensions["code"] = original.code
        extensions["retryAfter"] = original.retry_after_seconds
    elif isinstance(original, DomainError) and not isinstance(original, StoreUnavailableError):
        extensions["code"] = original.code
    elif original is None or isinstance(original, GraphQLError):
        # Parse, validation and variable errors (no path), or errors raised as
        # GraphQLError on purpose (permissions, limits) that already carry a code.
        if original is None and is_limit_error(error):
            extensions["code"] = QUERY_TOO_COMPLEX_CODE
        extensions.setdefault("code", BAD_INPUT_CODE)
        if hide_suggestions:
            message = _SUGGESTION.sub("", message)
    else:
        log_masked_error(
            logger, "unexpected error in resolver", original, request_id, path=error.path
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
