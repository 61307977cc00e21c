"""Stores to back up and restore (SQLite + folder, DynamoDB + S3 through moto's server),
seeded through the real file and user use cases, and a snapshot to compare them by."""

import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.blobs.local.store import LocalBlobStore
from adapters.blobs.s3 import S3BlobStore
from adapters.items.dynamodb.store import DynamoDbItemStore
from adapters.items.sqlite import SqliteItemStore
from domain.files import FileLimits, FileService, NewFile, new_file_id
from domain.models import Principal, Visibility
from domain.ports import BlobStore, ItemStore
from domain.users import UserProfiles, UserRepository
from ops.aws_resources import create_table
from ops.backup import selection
from ops.backup.streams import closing
from tests.support.blob_backends import sigv4_s3_client
from tests.support.moto_server import dynamodb_client, shared_moto_server, unique_name

KEY_HEX = "11" * 32
OTHER_KEY_HEX = "22" * 32


@dataclass
class Stores:
    name: str
    items: ItemStore
    blobs: BlobStore
    # moto's TransactWriteItems is not thread-safe (concurrent ones fail with a 500), so
    # restores into moto's DynamoDB write one batch at a time.
    write_concurrency: int = 4

    @property
    def files(self) -> FileService:
        return FileService(
            items=self.items,
            blobs=self.blobs,
            clock=lambda: datetime.now(UTC),
            id_factory=new_file_id,
            limits=FileLimits(
                max_upload_bytes=10 * 1024 * 1024,
                quota_bytes=1024 * 1024 * 1024,
                pending_ttl_seconds=3600,
                upload_expiry_seconds=900,
            ),
        )

    @property
    def profiles(self) -> UserProfiles:
        return UserProfiles(UserRepository(self.items), clock=lambda: datetime.now(UTC))


@asynccontextmanager
async def local_stores(folder: Path) -> AsyncIterator[Stores]:
    items = SqliteItemStore(folder / "items.sqlite3")
    blobs = LocalBlobStore(
        folder / "blobs", base_url="http://127.0.0.1:9", signing_key=secrets.token_bytes(32)
    )
    blobs.prepare()
    try:
        yield Stores("local", items, blobs)
    finally:
        await items.close()


@asynccontextmanager
async def aws_stores() -> AsyncIterator[Stores]:
    endpoint = shared_moto_server()
    dynamodb = dynamodb_client(endpoint)
    table = unique_name("backup")
    create_table(dynamodb, table)
    s3 = sigv4_s3_client(endpoint)
    bucket = unique_name("backup")
    s3.create_bucket(Bucket=bucket)
    try:
        items = DynamoDbItemStore(dynamodb, table)
        yield Stores("aws", items, S3BlobStore(s3, bucket), write_concurrency=1)
    finally:
        dynamodb.delete_table(TableName=table)


def user(name: str) -> Principal:
    return Principal(user_id=f"u-{name}", username=name, email=f"{name}@example.com")


async def upload(
    stores: Stores,
    owner: Principal,
    body: bytes,
    *,
    name: str = "notes.txt",
    declare_sha256: bool = True,
    complete: bool = True,
    visibility: Visibility = Visibility.PUBLIC,
) -> str:
    """A file through createUpload, the bytes stored, completeUpload; returns its id."""
    record, _ = await stores.files.create_upload(
        owner,
        NewFile(
            name=name,
            content_type="text/plain",
            size=len(body),
            sha256=hashlib.sha256(body).hexdigest() if declare_sha256 else None,
            description=f"about {name}",
            tags=["backup"],
            visibility=visibility,
        ),
    )
    if complete:
        # The client's upload, as the store receives it (bytes first, then completeUpload).
        await stores.blobs.write(
            record.blob_key,
            _one(body),
            content_type="text/plain",
            sha256=hashlib.sha256(body).hexdigest(),
        )
        await stores.files.complete_upload(owner, record.id)
    return record.id


async def blob_key_of(stores: Stores, file_id: str) -> str:
    """Where a file's bytes are: a READY file's ready key is fresh per completion."""
    record = await stores.files.repository.get(file_id)
    assert record is not None
    return record.blob_key


async def seed(stores: Stores, *, files: int = 6) -> list[str]:
    """Two users, ``files`` READY files (one shared, one of them a duplicate of another's
    bytes), and one PENDING upload. Returns the READY file ids."""
    alice, bob = user("alice"), user("bob")
    for principal in (alice, bob):
        await stores.profiles.ensure_profile(principal)
    ids = []
    for number in range(files):
        body = b"same bytes\n" if number < 2 else os.urandom(100 + number * 37)
        ids.append(await upload(stores, alice, body, name=f"report {number}.txt"))
    await stores.files.share_file(alice, ids[0], "bob")
    await upload(stores, bob, b"in progress", name="pending.txt", complete=False)
    return ids


async def snapshot(stores: Stores) -> dict[str, Any]:
    """What a user would see: every data item, and the SHA-256 of each READY file's bytes."""
    items: dict[tuple[str, str], Any] = {}
    async with closing(stores.items.scan()) as pages:
        async for page in pages:
            for item in page:
                if selection.data_item(item):
                    items[(item["pk"], item["sk"])] = item
    hashes = {}
    for item in items.values():
        if selection.is_ready_file(item):
            digest = hashlib.sha256()
            async with closing(stores.blobs.read(item["blob_key"])) as chunks:
                async for chunk in chunks:
                    digest.update(chunk)
            hashes[item["id"]] = digest.hexdigest()
    return {"items": items, "blobs": hashes}


async def search_hits(stores: Stores, term: str) -> int:
    """How many index postings exist for ``term`` (file or user documents)."""
    count = 0
    async with closing(stores.items.scan()) as pages:
        async for page in pages:
            count += sum(
                1
                for item in page
                if str(item["pk"]).startswith("SRCH#P#") and str(item["pk"]).endswith(f"#{term}")
            )
    return count


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data
