"""Per-user storage accounting: bytes of READY files plus reservations for PENDING ones.

The ItemStore can only condition a write on a whole item's version, so a user's usage is
one item, and every change to a user's files rewrites it in the same atomic write as the
file itself (guarded by VersionIs): two uploads racing for the last free bytes cannot both
commit. This module is the arithmetic; items.py and repository.py store it.
"""

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import NamedTuple

from domain.errors import InvalidInputError


class Reservation(NamedTuple):
    size: int
    expires_at: int  # epoch seconds; the same instant the PENDING file itself expires


@dataclass(frozen=True, slots=True)
class Usage:
    owner_id: str
    ready_bytes: int = 0
    pending: MappingProxyType[str, Reservation] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # The stored item's version; 0 means no item is stored yet.
    version: int = 0

    @property
    def used_bytes(self) -> int:
        return self.ready_bytes + sum(reservation.size for reservation in self.pending.values())

    def pruned(self, now: int) -> "Usage":
        """Without the reservations of uploads that expired unfinished: their files are
        gone (or about to be, by TTL) and can no longer become READY."""
        live = {fid: res for fid, res in self.pending.items() if now < res.expires_at}
        return self._with(pending=live)

    def reserve(
        self, file_id: str, reservation: Reservation, *, quota_bytes: int, max_pending: int
    ) -> "Usage":
        if len(self.pending) >= max_pending:
            raise InvalidInputError(
                f"too many unfinished uploads ({max_pending}); complete or delete some first"
            )
        if self.used_bytes + reservation.size > quota_bytes:
            raise InvalidInputError(
                f"storage quota exceeded: {self.used_bytes} of {quota_bytes} bytes used, "
                f"{reservation.size} more requested"
            )
        return self._with(pending={**self.pending, file_id: reservation})

    def settle(self, file_id: str, size: int) -> "Usage":
        """The upload completed: its reservation becomes READY bytes."""
        pending = dict(self.pending)
        pending.pop(file_id, None)
        return self._with(pending=pending, ready_bytes=self.ready_bytes + size)

    def release(self, file_id: str, size: int, *, ready: bool) -> "Usage":
        """The file was deleted: free its bytes (READY) or its reservation (PENDING)."""
        pending = dict(self.pending)
        pending.pop(file_id, None)
        ready_bytes = max(0, self.ready_bytes - size) if ready else self.ready_bytes
        return self._with(pending=pending, ready_bytes=ready_bytes)

    def _with(self, *, pending: dict[str, Reservation], ready_bytes: int | None = None) -> "Usage":
        return replace(
            self,
            pending=MappingProxyType(pending),
            ready_bytes=self.ready_bytes if ready_bytes is None else ready_bytes,
        )
