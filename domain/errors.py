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


class IndexRebuildingError(DomainError):
    """Search is refused while the index is rebuilt after a restore: a partial index would
    answer with hits missing, which a client cannot tell from a true answer."""

    code = "INDEX_REBUILDING"

    def __init__(self) -> None:
        super().__init__("The search index is being rebuilt after a restore; try again later")
