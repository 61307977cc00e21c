"""Parse and validation results remembered per query text.

Apps send the same few documents over and over; parsing and validating them was most of a
small query's time (bench/request_overhead.py, bench/framework.py). One cache per schema
maps the query text (with the parse options and the validation rules, which the limits
set) to its document and validation errors:

- only documents that parsed are kept, so every parse error (the token limit's too) is
  raised by Strawberry's own parse step, where the error codes are put on it;
- validation depends on the document alone here (a ``first`` given as a variable is costed
  at its cap), so its errors are kept with the document; ErrorCodes puts codes on fresh
  copies, never on a kept error;
- bounded: the least recently used entry goes first, and long texts are never kept (the
  documents apps repeat are short; a flood of unique texts only churns the cache).
"""

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any

from graphql import DocumentNode, GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

DEFAULT_ENTRIES = 256
MAX_CACHED_QUERY_CHARS = 10_000

_Entry = tuple[DocumentNode, list[GraphQLError]]


class _Documents:
    def __init__(self, entries: int) -> None:
        self.entries = entries
        self.kept: OrderedDict[Hashable, _Entry] = OrderedDict()

    def get(self, key: Hashable) -> _Entry | None:
        entry = self.kept.get(key)
        if entry is not None:
            self.kept.move_to_end(key)
        return entry

    def put(self, key: Hashable, entry: _Entry) -> None:
        self.kept[key] = entry
        self.kept.move_to_end(key)
        while len(self.kept) > self.entries:
            self.kept.popitem(last=False)


class DocumentCache(SchemaExtension):
    def __init__(self, documents: _Documents) -> None:
        super().__init__()
        self._documents = documents
        self._key: Hashable | None = None
        self._hit: _Entry | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if isinstance(query, str) and len(query) <= MAX_CACHED_QUERY_CHARS:
            options = tuple(sorted(context.parse_options.items()))
            self._key = (query, options, tuple(context.validation_rules))
            self._hit = self._documents.get(self._key)
            if self._hit is not None:
                context.graphql_document = self._hit[0]
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if self._hit is not None:
            context.pre_execution_errors = list(self._hit[1])
        elif context.graphql_document is not None:
            errors = validate_document(
                context.schema._schema, context.graphql_document, context.validation_rules
            )
            context.pre_execution_errors = errors
            if self._key is not None:
                self._documents.put(self._key, (context.graphql_document, list(errors)))
        yield


def document_cache(entries: int = DEFAULT_ENTRIES) -> Callable[[], Any]:
    """A factory for build_schema's extension list: one shared cache, a fresh extension
    per request."""
    documents = _Documents(entries)
    return lambda: DocumentCache(documents)
