"""Reading files: one file, many (for DataLoaders), listings and download URLs — each
showing a viewer only what domain.access lets them read."""

from collections.abc import Sequence

from domain.access import may_read_file
from domain.files.checks import check_readable
from domain.files.deps import FileDeps
from domain.files.models import FileFilter, FilePage
from domain.files.rules import check_expires_in, clean_filter
from domain.models import FileRecord, FileStatus, Principal
from domain.paging import check_page_size


async def get_file(deps: FileDeps, viewer: Principal, file_id: str) -> FileRecord:
    """NotFoundError when missing or unreadable — the same error either way."""
    return check_readable(viewer, await deps.files.get(file_id))


async def readable_files(
    deps: FileDeps, viewer: Principal, file_ids: Sequence[str]
) -> list[FileRecord | None]:
    """One batched read; None where a file is missing or the viewer may not read it."""
    records = await deps.files.get_many(file_ids)
    return [r if r is not None and may_read_file(viewer, r) else None for r in records]


async def download_url(
    deps: FileDeps, viewer: Principal, record: FileRecord, expires_in: int | None = None
) -> str | None:
    """A short-lived URL for the bytes; None while the file is PENDING."""
    check_readable(viewer, record)
    limits = deps.limits
    seconds = check_expires_in(
        limits.download_expiry_default if expires_in is None else expires_in,
        limits.download_expiry_max,
    )
    if record.status is not FileStatus.READY:
        return None
    return await deps.blobs.presign_download(
        record.blob_key, filename=record.name, expires_in=seconds
    )


async def list_owned_by(
    deps: FileDeps,
    viewer: Principal,
    owner_id: str,
    *,
    first: int,
    after: str | None = None,
    file_filter: FileFilter | None = None,
    backward: bool = False,
) -> FilePage:
    """An owner's files newest first: all of them for the owner and admins, only the
    readable ones (PUBLIC or shared with the viewer) for anyone else. ``backward``: the
    ``first`` before ``after``, nearest first."""
    first = check_page_size(first)
    wanted = clean_filter(file_filter)
    return await deps.files.list_owned(
        owner_id,
        first=first,
        after=after,
        keep=lambda record: wanted.matches(record) and may_read_file(viewer, record),
        backward=backward,
    )


async def list_shared_with(
    deps: FileDeps,
    viewer: Principal,
    *,
    first: int,
    after: str | None = None,
    file_filter: FileFilter | None = None,
    backward: bool = False,
) -> FilePage:
    """Files shared with the viewer, most recently shared first (``backward`` as in
    list_owned_by)."""
    first = check_page_size(first)
    wanted = clean_filter(file_filter)
    return await deps.files.list_shared_with(
        viewer.user_id,
        first=first,
        after=after,
        # The share item says so, but the meta item is the authority on who it is shared with.
        keep=lambda record: viewer.user_id in record.shared_with and wanted.matches(record),
        backward=backward,
    )
