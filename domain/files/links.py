"""Share links: a URL anyone may follow, without signing in, to download one READY file
until the link expires, runs out of downloads, is revoked or its file is deleted.

The token in the URL is 32 bytes from ``secrets`` (256 bits): guessing one is pointless by
construction. The store keeps only its SHA-256, so reading the table or a backup yields no
working link; the token exists in createShareLink's answer alone.

Creating or revoking a link is a change of the file (its version moves on, the write is
conditioned on the version read), so it serialises with deleteFile: a file is never
deleted while a link is being added that its deletion would miss. A download is counted
by the store's ``Add`` (bounded by ``max_downloads``) together with a check that the
link's token item still exists, so counting never outlives a revoke or a deletion.
"""

import hashlib
import re
import secrets
from dataclasses import replace
from datetime import datetime

from domain.access import may_change_file
from domain.clock import epoch
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.files import items as file_items
from domain.files.deps import SAVE_ATTEMPTS, FileDeps, changeable_file, gave_up
from domain.files.events import FileEventKind, publish
from domain.files.models import ShareLink
from domain.models import FileRecord, FileStatus, Principal
from domain.ports import WriteOp
from domain.retries import LOST_RACE, LostRace, retry_lost_races, won

LINK_EXPIRY_MIN_SECONDS = 60
LINK_EXPIRY_MAX_SECONDS = 30 * 86_400
LINK_EXPIRY_DEFAULT_SECONDS = 7 * 86_400
MAX_DOWNLOADS_LIMIT = 1_000_000
# The presigned download a followed link redirects to: long enough to start, no longer.
LINK_DOWNLOAD_SECONDS = 60
LINK_NOT_FOUND_MESSAGE = "Share link not found"

_TOKEN_BYTES = 32
# secrets.token_urlsafe(32): 43 characters of the URL-safe alphabet.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def check_link_expiry(expires_in: object) -> int:
    if (
        isinstance(expires_in, bool)
        or not isinstance(expires_in, int)
        or not LINK_EXPIRY_MIN_SECONDS <= expires_in <= LINK_EXPIRY_MAX_SECONDS
    ):
        raise InvalidInputError(
            f"expiresIn must be between {LINK_EXPIRY_MIN_SECONDS} and "
            f"{LINK_EXPIRY_MAX_SECONDS} seconds (30 days)"
        )
    return expires_in


def check_max_downloads(max_downloads: object) -> int | None:
    if max_downloads is None:
        return None
    if (
        isinstance(max_downloads, bool)
        or not isinstance(max_downloads, int)
        or not 1 <= max_downloads <= MAX_DOWNLOADS_LIMIT
    ):
        raise InvalidInputError(f"maxDownloads must be between 1 and {MAX_DOWNLOADS_LIMIT}")
    return max_downloads


async def create_share_link(
    deps: FileDeps,
    viewer: Principal,
    file_id: str,
    *,
    expires_in: int | None,
    max_downloads: int | None,
) -> tuple[ShareLink, str]:
    """The new link and its token (to build the URL from; never stored)."""
    seconds = check_link_expiry(expires_in)  # before any read: bad input costs no store call
    cap = check_max_downloads(max_downloads)

    async def attempt(_: int) -> tuple[ShareLink, str] | LostRace:
        record = await changeable_file(deps, viewer, file_id)
        if record.status is not FileStatus.READY:
            raise InvalidInputError("Only a READY file can have share links")
        now = deps.clock()
        stored = await deps.files.share_links(record.id)
        stale = [link for link in stored if now.timestamp() >= link.expires_at]
        live = len(stored) - len(stale)
        if live >= deps.limits.max_share_links_per_file:
            raise InvalidInputError(
                f"A file can have at most {deps.limits.max_share_links_per_file} share links; "
                "revoke one first"
            )
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        link = ShareLink(
            id=deps.new_id(),
            file_id=record.id,
            token_sha256=token_sha256(token),
            created_at=now,
            expires_at=epoch(now) + seconds,
            downloads=0,
            max_downloads=cap,
        )
        saved = _bumped(record, now)
        ops: list[WriteOp] = [file_items.put_file_over(saved, record.version)]
        ops += file_items.put_share_link(link)
        for old in stale:  # expired links go with the write that adds one: bounded storage
            ops += file_items.delete_share_link(old)
        if not await won(deps.files.write(ops)):
            return LOST_RACE
        # Its version moved on: followers learn it as from any other change.
        await publish(deps, FileEventKind.UPDATED, saved)
        return link, token

    return await retry_lost_races(attempt, attempts=SAVE_ATTEMPTS, give_up=gave_up)


async def revoke_share_link(deps: FileDeps, viewer: Principal, file_id: str, link_id: str) -> str:
    """NOT_FOUND for a link that is unknown, already revoked, or on a file the viewer may
    not read — one message for all three. Answers the revoked link's id."""

    async def attempt(_: int) -> str | LostRace:
        try:
            record = await changeable_file(deps, viewer, file_id)
        except NotFoundError:
            raise NotFoundError(LINK_NOT_FOUND_MESSAGE) from None
        link = next((x for x in await deps.files.share_links(record.id) if x.id == link_id), None)
        if link is None:
            raise NotFoundError(LINK_NOT_FOUND_MESSAGE)
        saved = _bumped(record, deps.clock())
        ops = [file_items.put_file_over(saved, record.version)]
        if not await won(deps.files.write(ops + file_items.delete_share_link(link))):
            return LOST_RACE
        await publish(deps, FileEventKind.UPDATED, saved)
        return link.id

    return await retry_lost_races(attempt, attempts=SAVE_ATTEMPTS, give_up=gave_up)


async def share_links_of(deps: FileDeps, viewer: Principal, record: FileRecord) -> list[ShareLink]:
    """The file's unexpired links, newest first, for its owner and admins; [] for others."""
    if not may_change_file(viewer, record):
        return []
    now = deps.clock()
    links = await deps.files.share_links(record.id)
    live = [link for link in links if now.timestamp() < link.expires_at]
    return sorted(live, key=lambda link: link.created_at, reverse=True)


async def follow_share_link(deps: FileDeps, token: str) -> str | None:
    """A short-lived download URL for the link's file, counting the download; None for a
    token naming no working link (unknown, expired, used up, revoked, file deleted)."""
    if not isinstance(token, str) or _TOKEN.fullmatch(token) is None:
        return None
    found = await deps.files.share_link_by_token(token_sha256(token))
    if found is None:
        return None
    link, record = found
    now = deps.clock()
    if not link.works_at(now) or record.status is not FileStatus.READY:
        return None
    try:
        await deps.files.write(file_items.count_download(link))
    except ConflictError:  # used up by a concurrent download, or revoked meanwhile
        return None
    return await deps.blobs.presign_download(
        record.blob_key, filename=record.name, expires_in=LINK_DOWNLOAD_SECONDS
    )


def _bumped(record: FileRecord, now: datetime) -> FileRecord:
    return replace(record, version=record.version + 1, updated_at=now)
