"""Permission classes: authorization is declared on fields, decided by domain/access.py."""

from typing import Any

from strawberry import Info
from strawberry.permission import BasePermission

from domain.errors import UnauthenticatedError
from resolvers.context import Context


class IsAuthenticated(BasePermission):
    message = "Authentication required"
    error_extensions = {"code": UnauthenticatedError.code}

    def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        # Raising (rather than returning False) surfaces why: an invalid token, or a
        # profile that could not be set up, each with its own domain error code.
        info.context.require_principal()
        return True
