"""Backup errors: domain errors, so the CLI prints their message as one line."""

from domain.errors import DomainError


class BackupError(DomainError):
    """A backup, verify or restore could not proceed; the message says why."""


class BackupDamagedError(BackupError):
    """The backup is incomplete, truncated or altered: a checksum or signature failed."""


class BackupKeyError(BackupError):
    """The backup is encrypted and the key is missing or is not the one it was made with."""


class RestoreTargetNotEmptyError(BackupError):
    """Restore refuses to mix a backup into existing data unless forced."""
