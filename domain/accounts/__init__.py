"""Account-wide use cases: sign out everywhere, delete an account (and its purge)."""

from domain.accounts.service import AccountService

__all__ = ["AccountService"]
