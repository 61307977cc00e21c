"""GraphQL over HTTP's two response media types, and which one a request gets.

- ``application/graphql-response+json`` (the spec's current type): the status says what
  happened. A request error (the document does not parse or validate, variables do not
  coerce, no operation can be selected) answers 400 with no ``data`` entry; a request
  that reached execution answers 200 with ``data`` (possibly partial) and ``errors``.
- ``application/json`` (older clients, and a missing or ``*/*`` Accept): 200 with
  ``errors``, as this API always answered.

A client naming the new type explicitly gets it unless it prefers ``application/json``
by q-value; wildcards resolve to ``application/json``, as the spec asks for the legacy
watershed. An Accept allowing neither is answered 406.
"""

import functools
from typing import Any

from graphql import GraphQLError

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
INTERNAL_CODE = "INTERNAL_SERVER_ERROR"

_EXACT, _SUBTYPE_WILDCARD, _WILDCARD, _NO_MATCH = 2, 1, 0, -1


def _specificity(media_range: str, media_type: str) -> int:
    if media_range == media_type:
        return _EXACT
    if media_range == "*/*":
        return _WILDCARD
    kind, _, subtype = media_range.partition("/")
    if subtype == "*" and media_type.startswith(f"{kind}/"):
        return _SUBTYPE_WILDCARD
    return _NO_MATCH


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return quality if 0.0 <= quality <= 1.0 else 0.0  # NaN fails both: refused
    return 1.0


# Clients send few distinct Accept headers, and every request negotiates one: remembered.
@functools.lru_cache(maxsize=256)
def negotiate(accept: str | None) -> str | None:
    """The response media type for this Accept header, or None (answer 406)."""
    if accept is None or not accept.strip():
        return JSON
    # Per candidate: the most specific range that matches it, and that range's q.
    best = {GRAPHQL_RESPONSE_JSON: (_NO_MATCH, 0.0), JSON: (_NO_MATCH, 0.0)}
    for part in accept.split(","):
        media_range, *params = part.split(";")
        media_range = media_range.strip().lower()
        for candidate, (specificity, _) in best.items():
            match = _specificity(media_range, candidate)
            if match > specificity:
                best[candidate] = (match, _quality(params))
    new_match, new_q = best[GRAPHQL_RESPONSE_JSON]
    json_match, json_q = best[JSON]
    if new_match == _EXACT and new_q > 0 and new_q >= json_q:
        return GRAPHQL_RESPONSE_JSON
    if json_match != _NO_MATCH and json_q > 0:
        return JSON
    return None


def request_error_status(data: Any, errors: list[GraphQLError] | None) -> int | None:
    """400 (500 for our own failure) when the result is a request error, else None.

    A request error is one raised before execution: the spec's response then has no
    ``data``. Errors raised while executing always carry a ``path``, even when a
    non-null field nulls the whole ``data``, so a pathless error set without data is
    told apart by the result's shape, never by message text.
    """
    if data is not None or not errors or any(error.path for error in errors):
        return None
    codes = {(error.extensions or {}).get("code") for error in errors}
    return 500 if INTERNAL_CODE in codes else 400


__all__ = ["GRAPHQL_RESPONSE_JSON", "JSON", "negotiate", "request_error_status"]
