"""DataLoaders, one per access path, named <Entity>By<Key>; they batch into ItemStore.get_many.

They return raw records, unfiltered: ``file_by_id`` yields files the viewer may not read,
so every edge that turns one into a File applies domain.access.may_read_file first
(resolvers/files/queries.py), never the loader itself (its cache is shared by every edge).
"""

import asyncio
from collections.abc import Iterable
from typing import TypeVar

from strawberry.dataloader import DataLoader

from domain.models import FileRecord, User
from domain.ports import MAX_BATCH_GET
from resolvers.services import Services

_K = TypeVar("_K")
_V = TypeVar("_V")


def known_now(loader: DataLoader[_K, _V], key: _K) -> "asyncio.Future[_V] | None":
    """The loader's settled answer for ``key`` when this request already has it (primed,
    or loaded earlier), else None. Looks at the cache only, never starts a load: a load
    started here, ahead of the resolvers still to run, would leave theirs for a second
    batch.

    A resolver that answers without awaiting lets graphql-core complete a list without a
    coroutine and a gather per item: on a page of the viewer's own files every owner is
    the profile primed at sign-in, so the whole page completes synchronously."""
    future = loader.cache_map.get(key) if loader.cache else None
    if future is None or not future.done() or future.cancelled():
        return None
    return future if future.exception() is None else None


class Loaders:
    def __init__(self, services: Services) -> None:
        self.user_by_id: DataLoader[str, User | None] = DataLoader(
            load_fn=services.users.get_many, max_batch_size=MAX_BATCH_GET
        )
        self.file_by_id: DataLoader[str, FileRecord | None] = DataLoader(
            load_fn=services.files.repository.get_many, max_batch_size=MAX_BATCH_GET
        )

    def remember_files(self, records: Iterable[FileRecord]) -> None:
        """Records a listing or a mutation already holds: later reads in this request use
        them (and see a mutation's result rather than what was cached before it)."""
        for record in records:
            self.file_by_id.prime(record.id, record, force=True)

    def forget_file(self, file_id: str) -> None:
        self.file_by_id.prime(file_id, None, force=True)
