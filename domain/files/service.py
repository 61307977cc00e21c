"""FileService: the file use cases behind one object, built once per process by the
composition root with every dependency and limit passed in (nothing read from the
environment, no adapter chosen here). Resolvers call it; it raises domain errors only."""

from collections.abc import Callable, Sequence
from functools import partial

from domain.clock import Clock
from domain.events import FileEventPublisher
from domain.files import changes as file_changes
from domain.files import links as file_links
from domain.files import multipart as file_multipart
from domain.files import reads as file_reads
from domain.files import sharing as file_sharing
from domain.files import uploads as file_uploads
from domain.files.deps import FileDeps
from domain.files.limits import FileLimits
from domain.files.models import (
    UNSET,
    FileChanges,
    FileFilter,
    FilePage,
    NewFile,
    ShareLink,
    Unset,
)
from domain.files.multipart import CompletedPart
from domain.files.repository import FileRepository
from domain.models import FileRecord, Principal, Visibility
from domain.ports import BlobStore, ItemStore, PartTarget, UploadTarget
from domain.search.bulk import index_fresh
from domain.search.documents import FILE, Document, file_document
from domain.search.indexer import SearchIndexer
from domain.users import UserRepository


class FileService:
    def __init__(
        self,
        *,
        items: ItemStore,
        blobs: BlobStore,
        clock: Clock,
        id_factory: Callable[[], str],
        limits: FileLimits,
        events: FileEventPublisher | None = None,
    ) -> None:
        self.repository = FileRepository(items, clock)
        self._items = items
        self._indexer = SearchIndexer(items)
        self._deps = FileDeps(
            files=self.repository,
            blobs=blobs,
            users=UserRepository(items),
            clock=clock,
            new_id=id_factory,
            limits=limits,
            search_index=self.index_for_search,
            search_index_new=self._index_new_for_search,
            events=events,
        )

    async def index_for_search(self, file_id: str) -> None:
        """Re-index one file from its current metadata (also what reindex calls)."""

        async def load() -> Document | None:
            return file_document(await self.repository.get(file_id))

        await self._indexer.sync(FILE, file_id, load)

    async def _index_new_for_search(self, ready: FileRecord) -> None:
        """Index a file just made READY from the record written (upload completion)."""
        document = file_document(ready)
        if document is None:
            await self.index_for_search(ready.id)
            return

        async def current() -> Document | None:
            return file_document(await self.repository.get(ready.id))

        sync = partial(self._indexer.sync, FILE, ready.id, current)
        await index_fresh(self._items, document, current=current, sync=sync)

    @property
    def limits(self) -> FileLimits:
        return self._deps.limits

    # --- uploads ---

    async def create_upload(
        self, viewer: Principal, new: NewFile
    ) -> tuple[FileRecord, UploadTarget | None]:
        return await file_uploads.create_upload(self._deps, viewer, new)

    async def complete_upload(
        self,
        viewer: Principal,
        file_id: str,
        parts: Sequence[CompletedPart] | None = None,
    ) -> FileRecord:
        return await file_uploads.complete_upload(self._deps, viewer, file_id, parts)

    async def upload_parts(
        self,
        viewer: Principal,
        file_id: str,
        part_numbers: Sequence[int],
        sha256: Sequence[str] | None = None,
    ) -> list[PartTarget]:
        return await file_multipart.upload_parts(self._deps, viewer, file_id, part_numbers, sha256)

    async def uploaded_parts(self, viewer: Principal, record: FileRecord) -> list[int]:
        return await file_multipart.uploaded_part_numbers(self._deps, viewer, record)

    async def abort_upload(self, viewer: Principal, file_id: str) -> str:
        return await file_changes.abort_upload(self._deps, viewer, file_id)

    async def complete_upload_from_store_event(self, key: str) -> FileRecord | None:
        return await file_uploads.complete_upload_from_store_event(self._deps, key)

    async def accepts_upload(self, key: str) -> bool:
        return await file_uploads.accepts_upload(self._deps, key)

    # --- reads ---

    async def get_file(self, viewer: Principal, file_id: str) -> FileRecord:
        return await file_reads.get_file(self._deps, viewer, file_id)

    async def readable_files(
        self, viewer: Principal, file_ids: Sequence[str]
    ) -> list[FileRecord | None]:
        return await file_reads.readable_files(self._deps, viewer, file_ids)

    async def download_url(
        self, viewer: Principal, file: FileRecord, expires_in: int | None = None
    ) -> str | None:
        return await file_reads.download_url(self._deps, viewer, file, expires_in)

    async def list_files_of(
        self,
        viewer: Principal,
        owner_id: str,
        *,
        first: int,
        after: str | None = None,
        file_filter: FileFilter | None = None,
        backward: bool = False,
    ) -> FilePage:
        """myFiles (owner_id = viewer.user_id) and User.files."""
        return await file_reads.list_owned_by(
            self._deps,
            viewer,
            owner_id,
            first=first,
            after=after,
            file_filter=file_filter,
            backward=backward,
        )

    async def list_shared_with_me(
        self,
        viewer: Principal,
        *,
        first: int,
        after: str | None = None,
        file_filter: FileFilter | None = None,
        backward: bool = False,
    ) -> FilePage:
        return await file_reads.list_shared_with(
            self._deps,
            viewer,
            first=first,
            after=after,
            file_filter=file_filter,
            backward=backward,
        )

    # --- changes ---

    async def update_file(
        self,
        viewer: Principal,
        file_id: str,
        *,
        expected_version: int | None = None,
        name: str | Unset | None = UNSET,
        description: str | Unset | None = UNSET,
        tags: Sequence[str] | Unset | None = UNSET,
        visibility: Visibility | Unset | None = UNSET,
    ) -> FileRecord:
        changes = FileChanges(name=name, description=description, tags=tags, visibility=visibility)
        return await file_changes.update_file(
            self._deps, viewer, file_id, changes, expected_version
        )

    async def delete_file(
        self, viewer: Principal, file_id: str, expected_version: int | None = None
    ) -> str:
        return await file_changes.delete_file(self._deps, viewer, file_id, expected_version)

    async def share_file(self, viewer: Principal, file_id: str, username: str) -> FileRecord:
        return await file_sharing.share_file(self._deps, viewer, file_id, username)

    async def unshare_file(self, viewer: Principal, file_id: str, username: str) -> FileRecord:
        return await file_sharing.unshare_file(self._deps, viewer, file_id, username)

    # --- share links ---

    async def create_share_link(
        self,
        viewer: Principal,
        file_id: str,
        *,
        expires_in: int | None = file_links.LINK_EXPIRY_DEFAULT_SECONDS,
        max_downloads: int | None = None,
    ) -> tuple[ShareLink, str]:
        return await file_links.create_share_link(
            self._deps, viewer, file_id, expires_in=expires_in, max_downloads=max_downloads
        )

    async def revoke_share_link(self, viewer: Principal, file_id: str, link_id: str) -> None:
        await file_links.revoke_share_link(self._deps, viewer, file_id, link_id)

    async def share_links(self, viewer: Principal, record: FileRecord) -> list[ShareLink]:
        return await file_links.share_links_of(self._deps, viewer, record)

    async def follow_share_link(self, token: str) -> str | None:
        """Anonymous: the token is the whole authority."""
        return await file_links.follow_share_link(self._deps, token)
