"""Query limits: refused at parse or validation time, before any resolver runs.

Depth and alias limits reuse Strawberry's validation rules; their errors (and the
parser's token-limit error) are tagged ``extensions.code = QUERY_TOO_COMPLEX`` so
ErrorCodes keeps that code instead of the generic BAD_USER_INPUT. The cost rule (an
upper bound multiplied through ``first``/``last`` page sizes) is our own and tags its error itself.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
)
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator

from domain.paging import PAGE_SIZE_MAX

TOO_COMPLEX_CODE = "QUERY_TOO_COMPLEX"
_TOKEN_LIMIT = re.compile(
    r"^Syntax Error: Document contains more than \d+ tokens\. Parsing aborted\.$"
)
_NESTING_LIMIT = "Syntax Error: Document is nested too deeply. Parsing aborted."


@dataclass(frozen=True)
class QueryLimits:
    """How large a query may be (depth, aliases, tokens, cost), from settings: refused
    before any resolver runs."""

    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2000
    max_cost: int = 5000


class _TaggingContext:
    """Hands a rule the real context, but tags every error it reports."""

    def __init__(self, context: ValidationContext) -> None:
        self._context = context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), "code": TOO_COMPLEX_CODE}
        self._context.report_error(error)


def _too_complex(rule: type[ValidationRule]) -> type[ValidationRule]:
    class TooComplex(rule):  # type: ignore[valid-type,misc]
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(cast("ValidationContext", _TaggingContext(context)))
            self.context = context

    return TooComplex


DEFAULT_PAGE_SIZE = 20  # the page size when a request gives neither ``first`` nor ``last``
_PAGE_SIZE_ARGUMENTS = ("first", "last")


class _Cost:
    """An upper bound on the fields a document resolves: each field counts once per
    time it may run, and a field taking ``first`` (and ``last``) multiplies what is below
    it by that page size (the default when absent, the cap when given as a variable)."""

    def __init__(self, context: ValidationContext) -> None:
        self._schema = context.schema
        self._fragments = {
            d.name.value: d
            for d in context.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }

    def operation(self, operation: OperationDefinitionNode) -> int:
        root = self._schema.get_root_type(operation.operation)
        return self._selections(operation.selection_set, root, 1, frozenset())

    def _selections(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType | None,
        multiplier: int,
        seen: frozenset[str],
    ) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection, parent, multiplier, seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self._schema.get_type(condition.name.value) if condition else parent
                total += self._selections(selection.selection_set, target, multiplier, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self._fragments.get(name)
                if fragment is None or name in seen:  # unknown or cyclic: other rules report
                    continue
                target = self._schema.get_type(fragment.type_condition.name.value)
                total += self._selections(fragment.selection_set, target, multiplier, seen | {name})
        return total

    def _field(
        self,
        node: FieldNode,
        parent: GraphQLNamedType | None,
        multiplier: int,
        seen: frozenset[str],
    ) -> int:
        field = None
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            field = parent.fields.get(node.name.value)
        size = 1
        if field is not None and "first" in field.args:
            sizes = [
                int(argument.value.value)
                if isinstance(argument.value, IntValueNode)
                else PAGE_SIZE_MAX
                for argument in node.arguments or ()
                if argument.name.value in _PAGE_SIZE_ARGUMENTS
            ]
            # Both given is refused when the field runs; count the larger until then.
            size = max(sizes, default=DEFAULT_PAGE_SIZE)
            size = max(1, min(size, PAGE_SIZE_MAX))  # beyond the cap is refused anyway
        child = get_named_type(field.type) if field is not None else None
        return multiplier + self._selections(node.selection_set, child, multiplier * size, seen)


def _cost_validator(max_cost: int) -> type[ValidationRule]:
    class CostValidator(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            cost = _Cost(context)
            for definition in context.document.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                total = cost.operation(definition)
                if total > max_cost:
                    context.report_error(
                        GraphQLError(
                            f"Query cost {total} exceeds the maximum of {max_cost}",
                            definition,
                            extensions={"code": TOO_COMPLEX_CODE},
                        )
                    )

    return CostValidator


def is_limit_error(error: GraphQLError) -> bool:
    """The parser's own limits (tokens, nesting) carry no code; recognise them here."""
    return bool(_TOKEN_LIMIT.match(error.message)) or error.message == _NESTING_LIMIT


def limit_extensions(limits: QueryLimits) -> list[Callable[[], SchemaExtension]]:
    rules: list[type[ASTValidationRule]] = [
        _too_complex(depth_validator(limits.max_depth, None)),
        _too_complex(alias_validator(limits.max_aliases)),
        _cost_validator(limits.max_cost),
    ]
    return [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: AddValidationRules(rules),
    ]


__all__ = ["TOO_COMPLEX_CODE", "QueryLimits", "is_limit_error", "limit_extensions"]
