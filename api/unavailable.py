"""How SERVICE_UNAVAILABLE reaches HTTP: status 503 and ``Retry-After``.

GraphQL answers 503 only when the whole operation failed (no field has data) and one of
its errors is SERVICE_UNAVAILABLE; a partial answer stays 200 with the errors inside, as
GraphQL over HTTP expects. The seconds come from ``extensions.retryAfter``.
"""

from collections.abc import Mapping, Sequence
from typing import Any

SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
RETRY_AFTER_EXTENSION = "retryAfter"


def retry_after(errors: Sequence[Mapping[str, Any]]) -> int | None:
    """Seconds to wait, when some error is SERVICE_UNAVAILABLE (the longest asked)."""
    waits = [
        int(extensions.get(RETRY_AFTER_EXTENSION) or 1)
        for error in errors
        if (extensions := error.get("extensions") or {}).get("code") == SERVICE_UNAVAILABLE
    ]
    return max(waits) if waits else None


def whole_operation_unavailable(response: Mapping[str, Any]) -> int | None:
    """Retry-After seconds when the operation produced nothing and the cause was a
    dependency; None otherwise."""
    errors = response.get("errors")
    if not errors:
        return None
    data = response.get("data")
    if isinstance(data, Mapping) and any(value is not None for value in data.values()):
        return None
    return retry_after(errors)
