"""Backups of items and blobs together: `demobackend backup/verify-backup/restore/drill`.

The format is documented in ops/backup/README.md.
"""
