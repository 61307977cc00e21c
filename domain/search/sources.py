"""Where a search's candidates come from and who may see them: the metadata items, read in
one batch per round and filtered by domain.access and the SearchFilter *before* anything
is counted or scored, so nothing about unreadable documents reaches a page."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from domain.access import may_read_file
from domain.clock import Clock
from domain.files import file_from_item, file_key, is_file_id
from domain.models import FileRecord, Principal, User
from domain.ports import ItemStore
from domain.search import keys
from domain.search.documents import FILE, USER, Document, file_document, user_document
from domain.search.models import SearchFilter
from domain.users import UserRepository


@dataclass(frozen=True, slots=True)
class Candidate:
    """A posting's record as read now, with the document made from it."""

    document: Document
    record: FileRecord | User


class Source(Protocol):
    kind: str
    # The posting partitions (keys.py access scopes) this viewer may read.
    scopes: tuple[str, ...]

    async def load(self, ids: Sequence[str]) -> list[Candidate]:
        """The visible, filter-passing documents among ``ids`` (others silently left out)."""
        ...


class FileSource:
    kind = FILE

    def __init__(
        self, store: ItemStore, viewer: Principal, wanted: SearchFilter, clock: Clock
    ) -> None:
        self._store, self._viewer, self._filter, self._clock = store, viewer, wanted, clock
        self.scopes = viewer_scopes(viewer)

    async def load(self, ids: Sequence[str]) -> list[Candidate]:
        valid = [file_id for file_id in ids if is_file_id(file_id)]
        items = await self._store.get_many([file_key(fid) for fid in valid])
        now = self._clock()
        found: list[Candidate] = []
        for item in items:
            if item is None:
                continue
            record = file_from_item(item)
            document = file_document(record)  # None while PENDING
            if (
                document is not None
                and not record.is_expired(now)
                and may_read_file(self._viewer, record)
                and self._filter.matches_file(record)
            ):
                found.append(Candidate(document, record))
        return found


class UserSource:
    """Every signed-in user may find every user (private fields stay filtered on User)."""

    kind = USER
    scopes: tuple[str, ...] = (keys.UNSCOPED,)

    def __init__(self, store: ItemStore, wanted: SearchFilter) -> None:
        self._users = UserRepository(store)
        self._filter = wanted

    async def load(self, ids: Sequence[str]) -> list[Candidate]:
        found: list[Candidate] = []
        for user in await self._users.get_many(list(ids)):
            document = user_document(user)
            if (
                user is not None
                and document is not None
                and self._filter.matches_time(user.created_at)
            ):
                found.append(Candidate(document, user))
        return found


def viewer_scopes(viewer: Principal) -> tuple[str, ...]:
    """Admins read every file (the ALL scope); anyone else PUBLIC files, their own and the
    ones shared with them — the partitions where only files they may read are posted."""
    if viewer.is_admin:
        return (keys.ALL,)
    return (keys.PUBLIC, keys.owner_scope(viewer.user_id), keys.shared_scope(viewer.user_id))
