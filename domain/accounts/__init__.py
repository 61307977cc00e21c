"""Account-wide use cases: sign out everywhere, delete an account (and its purge)."""

from domain.accounts.deletion import AccountDeletion, Tombstone
from domain.accounts.export import DataExport, DataExports, ExportLimits
from domain.accounts.service import AccountService

__all__ = [
    "AccountDeletion",
    "AccountService",
    "DataExport",
    "DataExports",
    "ExportLimits",
    "Tombstone",
]
