"""Domain errors: one base class, translated to GraphQL/REST codes only at the edge."""


class DomainError(Exception):
    """Base of every error the domain raises on purpose; its message is safe to show users."""

    code = "INTERNAL_SERVER_ERROR"


class UnauthenticatedError(DomainError):
    code = "UNAUTHENTICATED"

    def __init__(self, message: str = "Authentication required") -> None:
        super().__init__(message)


class InvalidTokenError(UnauthenticatedError):
    """Every token failure looks the same from outside: callers learn nothing about why."""

    def __init__(self) -> None:
        super().__init__("Invalid or expired token")


class ForbiddenError(DomainError):
    code = "FORBIDDEN"


class NotFoundError(DomainError):
    code = "NOT_FOUND"


class InvalidInputError(DomainError):
    code = "BAD_USER_INPUT"


class ConflictError(DomainError):
    """A write's condition failed (item exists, version moved on); nothing was written."""

    code = "CONFLICT"


class StoreUnavailableError(DomainError):
    """The backing store failed or timed out; the message never carries driver details."""

    code = "INTERNAL_SERVER_ERROR"


class ServiceUnavailableError(StoreUnavailableError):
    """A dependency cannot answer in time (deadline spent, breaker open, retries used up).

    Unlike its base class, the message is always one of ours and is shown as it is, with
    ``retry_after_seconds`` for the HTTP ``Retry-After`` header."""

    code = "SERVICE_UNAVAILABLE"

    def __init__(
        self, message: str = "Service temporarily unavailable", *, retry_after_seconds: int = 1
    ) -> None:
        super().__init__(message)
        self.retry_after_seconds = max(1, retry_after_seconds)


class ContendedError(ServiceUnavailableError):
    """Too many requests wrote the same item at once and the store kept cancelling them
    (DynamoDB's TransactionConflict). The store itself works, so no breaker counts it."""

    def __init__(self) -> None:
        super().__init__("Too many requests are changing the same data at once; try again")


class DeadlineExceededError(ServiceUnavailableError):
    def __init__(self) -> None:
        super().__init__("The request ran out of time; try again shortly")


class CircuitOpenError(ServiceUnavailableError):
    """Refused without calling the dependency: its breaker is open."""

    def __init__(self, dependency: str, retry_after_seconds: int) -> None:
        super().__init__(
            f"The {dependency} is unavailable; try again shortly",
            retry_after_seconds=retry_after_seconds,
        )
        self.dependency = dependency


class IndexRebuildingError(DomainError):
    """Search is refused while the index is rebuilt after a restore: a partial index would
    answer with hits missing, which a client cannot tell from a true answer."""

    code = "INDEX_REBUILDING"

    def __init__(self) -> None:
        super().__init__("The search index is being rebuilt after a restore; try again later")
