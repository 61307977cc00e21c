"""Per-request figures: one mutable ``RequestFigures`` per HTTP request, held in a
contextvar, so concurrent requests on one event loop never see each other's figures.

The observability middleware (api/observability/middleware.py) opens it; the counting store
decorators (api/observability/counting.py) and the ``OperationFigures`` schema extension
below fill it in; resolvers never touch it. Outside a request (``schema.execute`` in tests,
the CLI) there are no figures and everything here is a no-op.
"""

import functools
import hashlib
import re
import time
from collections.abc import Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult

# GraphQL's own name grammar, length-capped: only such names reach logs and metrics.
SAFE_OPERATION_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
INVALID_OPERATION_NAME = "invalid"
SEARCH_ROOT_FIELDS = frozenset({"search"})
_USER_HASH_SALT = b"demobackend-user-id\0"


@dataclass(slots=True)
class RequestFigures:
    """What one request did, counted as it runs and written once at its end."""

    request_id: str
    item_calls: int = 0
    items_read: int = 0
    blob_calls: int = 0
    blob_presigns: int = 0
    # GraphQL only: the operation's name as sent (None when unnamed; "invalid" when it is
    # not a GraphQL name), its type, the error codes answered, and a hash of the caller.
    graphql: bool = False
    operation_name: str | None = None
    operation_type: str | None = None
    error_codes: list[str] = field(default_factory=list)
    user: str | None = None
    # Wall time of an operation that selects a search root field (placeholder until the
    # search issue times its own backend call).
    search_ms: float | None = None

    @property
    def store_calls(self) -> int:
        return self.item_calls + self.blob_calls


_FIGURES: ContextVar[RequestFigures | None] = ContextVar("request_figures", default=None)


def current_figures() -> RequestFigures | None:
    return _FIGURES.get()


def open_figures(request_id: str) -> tuple[RequestFigures, Token[RequestFigures | None]]:
    """Start a request's figures in the current context; pass the token to close_figures."""
    figures = RequestFigures(request_id=request_id)
    return figures, _FIGURES.set(figures)


def close_figures(token: Token[RequestFigures | None]) -> None:
    _FIGURES.reset(token)


@functools.lru_cache(maxsize=4096)  # per request otherwise; a warm container sees few users
def hash_user_id(user_id: str) -> str:
    """A stable pseudonym for the caller (16 hex characters of a salted SHA-256 of the
    token's subject): correlates one user's requests without naming them."""
    return hashlib.sha256(_USER_HASH_SALT + user_id.encode()).hexdigest()[:16]


def safe_operation_name(name: str | None) -> str | None:
    if name is None:
        return None
    return name if SAFE_OPERATION_NAME.fullmatch(name) else INVALID_OPERATION_NAME


class OperationFigures(SchemaExtension):
    """Records the operation's name, type, caller and error codes into the request's
    figures. Listed before ErrorCodes: hooks exit in reverse order (an ExitStack), so
    ErrorCodes has translated the errors by the time this reads their codes."""

    def on_operation(self) -> Iterator[None]:
        figures = _FIGURES.get()
        started = time.perf_counter()
        yield
        if figures is None:
            return
        elapsed_ms = (time.perf_counter() - started) * 1000
        context = self.execution_context
        figures.graphql = True
        name = context.operation_name
        safe_name, operation_type, selects_search = _shape(context.graphql_document, name)
        figures.operation_name = safe_name
        figures.operation_type = operation_type
        principal = getattr(context.context, "principal", None)
        user_id = getattr(principal, "user_id", None)
        if isinstance(user_id, str):
            figures.user = hash_user_id(user_id)
        result = context.result
        if isinstance(result, GraphQLExecutionResult | ExecutionResult) and result.errors:
            for error in result.errors:
                code = (error.extensions or {}).get("code")
                figures.error_codes.append(code if isinstance(code, str) else "UNKNOWN")
        if selects_search:
            figures.search_ms = elapsed_ms


# The last document's answer: the app parses a known document once and hands the same
# object to every request sending it, so a client repeating one query asks once.
_last_shape: tuple[object, str | None, tuple[str | None, str | None, bool]] | None = None


def _shape(document: object, name: str | None) -> tuple[str | None, str | None, bool]:
    """The operation's name as logged (safe_operation_name), its type ("query", ...) and
    whether it selects a search root field."""
    global _last_shape
    last = _last_shape
    if last is not None and last[0] is document and last[1] == name:
        return last[2]
    operation = _operation(document, name)
    safe_name = safe_operation_name(name)
    shape = (
        (safe_name, operation.operation.value, _selects_search(operation))
        if operation is not None
        else (safe_name, None, False)
    )
    _last_shape = (document, name, shape)
    return shape


def _operation(document: object, name: str | None) -> OperationDefinitionNode | None:
    definitions = getattr(document, "definitions", None) or ()
    operations = [d for d in definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((op for op in operations if op.name and op.name.value == name), None)


def _selects_search(operation: OperationDefinitionNode) -> bool:
    return any(
        isinstance(selection, FieldNode) and selection.name.value in SEARCH_ROOT_FIELDS
        for selection in operation.selection_set.selections
    )
