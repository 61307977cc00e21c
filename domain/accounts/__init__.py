"""Account-wide use cases: sign out everywhere, delete an account (and its purge)."""

from domain.accounts.deletion import AccountDeletion, Tombstone
from domain.accounts.service import AccountService

__all__ = ["AccountDeletion", "AccountService", "Tombstone"]
