"""Per-user storage accounting: bytes of READY files plus reservations for PENDING ones.

A user's usage is one counter item that the store itself adds to (ItemStore ``Add``),
written alone, never inside the transaction of the file it accounts for: a reservation is
refused by the store when it would take the user past the quota or past the cap on
unfinished uploads, so parallel uploads of one user serialise in the store instead of
retrying in the app, and two uploads racing for the last free bytes cannot both be
counted. Alone, because DynamoDB cancels a transaction naming an item another transaction
is writing (deps.count_usage). Bytes are counted before the file is written and uncounted
after it is gone, so an interrupted request leaves usage too high (the quota refuses
early; ``demobackend recount-usage`` corrects it), never too low.

Each unfinished upload also has a reservation item (its size and expiry). Completing or
deleting the upload removes it on condition that it still exists, and so does reclaiming
it once the upload expired unfinished: whichever comes first releases the bytes, exactly
once. Reservation items carry no TTL, so the store never drops one without releasing it.
"""

from dataclasses import dataclass

from domain.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class Usage:
    """A user's usage item: the bytes that count against their quota and the uploads they
    have open."""

    owner_id: str
    used_bytes: int = 0  # READY files plus reservations not yet released
    pending_uploads: int = 0  # reservations not yet released


@dataclass(frozen=True, slots=True)
class Reservation:
    """Bytes an unfinished upload holds against its owner's quota until it is completed,
    deleted or expires."""

    file_id: str
    size: int
    expires_at: int  # epoch seconds; the same instant the PENDING file itself expires


def over_limit(usage: Usage, size: int, *, quota_bytes: int, max_pending: int) -> InvalidInputError:
    """Why the store refused to reserve ``size`` more bytes, as the user should read it."""
    if usage.pending_uploads >= max_pending:
        return InvalidInputError(
            f"too many unfinished uploads ({max_pending}); complete or delete some first"
        )
    return InvalidInputError(
        f"storage quota exceeded: {usage.used_bytes} of {quota_bytes} bytes used, "
        f"{size} more requested"
    )
