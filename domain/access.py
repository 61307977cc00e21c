"""The access rules, in one place (docs/ARCHITECTURE.md "Authorization"). Resolvers and REST
call these; nothing else decides who may see or change what."""

from domain.models import FileRecord, Principal, User, Visibility


def may_see_private_profile(viewer: Principal, user: User) -> bool:
    """Email and groups are visible to the user themself and to admins only."""
    return viewer.is_admin or viewer.user_id == user.id


def may_update_profile(viewer: Principal, user: User) -> bool:
    return viewer.is_admin or viewer.user_id == user.id


def may_read_file(viewer: Principal, file: FileRecord) -> bool:
    """Own files, PUBLIC files, files shared with the viewer; admins read everything."""
    return (
        viewer.is_admin
        or file.owner_id == viewer.user_id
        or file.visibility is Visibility.PUBLIC
        or viewer.user_id in file.shared_with
    )


def may_read_every_file_of(viewer: Principal, owner_id: str) -> bool:
    """The owner and admins read all of an owner's files: their listings hide none."""
    return viewer.is_admin or viewer.user_id == owner_id


def may_change_file(viewer: Principal, file: FileRecord) -> bool:
    """Update, delete, share, complete: the owner or an admin."""
    return viewer.is_admin or file.owner_id == viewer.user_id


def visible_shares(viewer: Principal, file: FileRecord) -> tuple[str, ...]:
    """``File.sharedWith``: the owner and admins see the list; everyone else sees none
    (who else a file is shared with is the owner's business)."""
    return file.shared_with if may_change_file(viewer, file) else ()
