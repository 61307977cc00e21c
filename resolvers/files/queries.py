"""Plain resolver functions for files, shared by query fields, ``node`` and ``User.files``.

An unreadable file must look exactly like a missing one: reads answer null for both,
mutations get the domain's NotFoundError for both — also for an id of another type.
"""

from typing import Any

from strawberry import Info

from domain.access import may_read_every_file_of, may_read_file
from domain.errors import NotFoundError
from domain.files import NOT_FOUND_MESSAGE, FileFilter, FilePage, clean_filter
from domain.ids import from_global_id
from resolvers.context import Context
from resolvers.files.connection import CursorScope, FileConnection, PageArgs, file_connection
from resolvers.files.types import FILE_TYPE, FileType


def file_id_of(global_id: str) -> str:
    """The local id of a File's global id, for mutations. BAD_USER_INPUT when malformed;
    an id of another type names no file, so it is NOT_FOUND like a missing one."""
    type_name, local_id = from_global_id(global_id)
    if type_name != FILE_TYPE:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    return local_id


async def resolve_file(info: Info[Context, Any], file_id: str) -> FileType | None:
    """The file if the viewer may read it; None when it is missing or unreadable."""
    viewer = info.context.require_principal()
    record = await info.context.loaders.file_by_id.load(file_id)
    if record is None or not may_read_file(viewer, record):
        return None
    return FileType.from_domain(record)


async def resolve_my_files(
    info: Info[Context, Any], args: PageArgs, file_filter: FileFilter | None
) -> FileConnection:
    viewer = info.context.require_principal()
    # Cleaned first: equal filters ("Image/" and "image/") share cursors.
    wanted = clean_filter(file_filter)

    async def list_page(size: int, position: str | None, backward: bool) -> FilePage:
        return await info.context.services.files.list_files_of(
            viewer,
            viewer.user_id,
            first=size,
            after=position,
            file_filter=wanted,
            backward=backward,
        )

    scope = CursorScope("myFiles", viewer.user_id, wanted.fingerprint())
    return await file_connection(info, list_page, scope, args)


async def resolve_files_of(
    info: Info[Context, Any], owner_id: str, args: PageArgs
) -> FileConnection:
    """``User.files``: everything for the owner and admins, otherwise only the files the
    viewer may read (the domain's listing applies the read rule to every record)."""
    viewer = info.context.require_principal()

    async def list_page(size: int, position: str | None, backward: bool) -> FilePage:
        return await info.context.services.files.list_files_of(
            viewer, owner_id, first=size, after=position, backward=backward
        )

    scope = CursorScope(f"User.files:{owner_id}", viewer.user_id)
    hides_records = not may_read_every_file_of(viewer, owner_id)
    return await file_connection(info, list_page, scope, args, hides_records=hides_records)


async def resolve_shared_with_me(info: Info[Context, Any], args: PageArgs) -> FileConnection:
    viewer = info.context.require_principal()

    async def list_page(size: int, position: str | None, backward: bool) -> FilePage:
        return await info.context.services.files.list_shared_with_me(
            viewer, first=size, after=position, backward=backward
        )

    scope = CursorScope("sharedWithMe", viewer.user_id)
    return await file_connection(info, list_page, scope, args, hides_records=True)
