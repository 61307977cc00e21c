"""Counting decorators for the stores, applied by the composition root: every call adds
to the current request's figures (resolvers/extensions/metrics.py); the adapters are
unaware. Outside a request there are no figures and a call costs one contextvar read."""

from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from typing import Any

from domain.ports import (
    BlobInfo,
    BlobStore,
    Item,
    ItemStore,
    Key,
    Page,
    PartTarget,
    StoredPart,
    UploadTarget,
    WriteOp,
)
from resolvers.extensions.metrics import current_figures


class CountingItemStore:
    def __init__(self, inner: ItemStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:  # adapter extras (close, ...) pass through
        return getattr(self.inner, name)

    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        items = await self.inner.get_many(keys)
        if (figures := current_figures()) is not None:
            figures.item_calls += 1
            figures.items_read += sum(item is not None for item in items)
        return items

    async def query(
        self,
        partition: str,
        *,
        index: str | None = None,
        prefix: str | None = None,
        after: str | None = None,
        limit: int = 100,
        descending: bool = False,
    ) -> Page:
        page = await self.inner.query(
            partition,
            index=index,
            prefix=prefix,
            after=after,
            limit=limit,
            descending=descending,
        )
        if (figures := current_figures()) is not None:
            figures.item_calls += 1
            figures.items_read += len(page.items)
        return page

    async def write(self, ops: Sequence[WriteOp]) -> None:
        _count_item_call()
        await self.inner.write(ops)

    async def scan(self, *, page_size: int = 500) -> AsyncIterator[list[Item]]:
        async for page in self.inner.scan(page_size=page_size):
            if (figures := current_figures()) is not None:
                figures.item_calls += 1
                figures.items_read += len(page)
            yield page

    async def ping(self) -> None:
        _count_item_call()
        await self.inner.ping()


class CountingBlobStore:
    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def presign_upload(
        self,
        key: str,
        *,
        size: int,
        content_type: str,
        sha256: str | None,
        expires_in: int,
    ) -> UploadTarget:
        _count_presign()
        return await self.inner.presign_upload(
            key, size=size, content_type=content_type, sha256=sha256, expires_in=expires_in
        )

    async def presign_download(self, key: str, *, filename: str, expires_in: int) -> str:
        _count_presign()
        return await self.inner.presign_download(key, filename=filename, expires_in=expires_in)

    async def head(self, key: str) -> BlobInfo | None:
        _count_blob_call()
        return await self.inner.head(key)

    async def delete(self, key: str) -> None:
        _count_blob_call()
        await self.inner.delete(key)

    async def copy(self, source_key: str, dest_key: str) -> None:
        _count_blob_call()
        await self.inner.copy(source_key, dest_key)

    async def confirm(self, key: str) -> None:
        _count_blob_call()
        await self.inner.confirm(key)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        _count_blob_call()
        chunks = self.inner.read(key)
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            # Closing the inner reader releases its file or connection at once.
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()

    async def write(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str, sha256: str
    ) -> None:
        _count_blob_call()
        await self.inner.write(key, chunks, content_type=content_type, sha256=sha256)

    async def ping(self) -> None:
        _count_blob_call()
        await self.inner.ping()

    async def start_multipart(
        self, key: str, *, content_type: str, part_checksums: bool = False
    ) -> str:
        _count_blob_call()
        return await self.inner.start_multipart(
            key, content_type=content_type, part_checksums=part_checksums
        )

    async def presign_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        size: int,
        expires_in: int,
        sha256: str | None = None,
    ) -> PartTarget:
        _count_presign()
        return await self.inner.presign_part(
            key, upload_id, part_number, size=size, expires_in=expires_in, sha256=sha256
        )

    async def uploaded_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        _count_blob_call()
        return await self.inner.uploaded_parts(key, upload_id)

    async def complete_multipart(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[tuple[int, str]],
        *,
        checksums: Mapping[int, str] | None = None,
    ) -> BlobInfo:
        _count_blob_call()
        return await self.inner.complete_multipart(key, upload_id, parts, checksums=checksums)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        _count_blob_call()
        await self.inner.abort_multipart(key, upload_id)


def _count_item_call() -> None:
    if (figures := current_figures()) is not None:
        figures.item_calls += 1


def _count_blob_call() -> None:
    if (figures := current_figures()) is not None:
        figures.blob_calls += 1


def _count_presign() -> None:
    if (figures := current_figures()) is not None:
        figures.blob_presigns += 1
