"""Secret files (signing keys) created exactly once, mode 0600 from the first byte.

A missing file is written to a temporary name beside it and hard-linked into place; the
link refuses to overwrite, so when several processes start at once the first one wins and
all of them end up with its content. An existing file is only ever read: whether its
content is usable is the caller's to judge, and an unusable secret is never replaced
silently (that would invalidate everything already signed with it).
"""

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

_TMP_SUFFIX = ".tmp"


class PrivateFileError(Exception):
    """The file cannot be read or written. Callers word their own message from
    ``action`` ("read" or "write") and ``reason`` (the OS's, without the path)."""

    def __init__(self, path: Path, action: Literal["read", "write"], reason: str) -> None:
        super().__init__(f"Cannot {action} {path}: {reason}")
        self.path = path
        self.action = action
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PrivateFile:
    content: bytes
    created: bool  # by this call; False when it was already there (or another won the race)
    readable_by_others: bool  # group or other permission bits set (POSIX only)


def load_or_create_private_file(path: Path, make: Callable[[], bytes]) -> PrivateFile:
    """The content of ``path``; if it is missing, ``make()``'s result, saved there first
    (parent directories 0700, the file 0600). Blocking. Raises PrivateFileError."""
    while True:
        try:
            content = path.read_bytes()
            too_open = os.name == "posix" and bool(path.stat().st_mode & 0o077)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise PrivateFileError(path, "read", str(exc.strerror)) from None
        else:
            return PrivateFile(content, created=False, readable_by_others=too_open)
        content = make()
        try:
            if _create(path, content):
                return PrivateFile(content, created=True, readable_by_others=False)
        except OSError as exc:
            raise PrivateFileError(path, "write", str(exc.strerror)) from None
        # Another process created it between our read and our link: use theirs.


def _create(path: Path, content: bytes) -> bool:
    """Whether ``content`` became the file (False: something else already had)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}{_TMP_SUFFIX}")
    # 0600 from the start: a chmod afterwards would leave a readable window. Complete
    # before it gets its name, so a concurrent reader never sees half a file.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(tmp, path)  # refuses to overwrite: the first process to get here wins
        except FileExistsError:
            return False
        except OSError:
            os.replace(tmp, path)  # filesystems without hard links
        return True
    finally:
        tmp.unlink(missing_ok=True)
