"""Execute the real schema with a Principal over the in-memory stores (the functional tier's
client, also used by the security tier), or over the AWS composition's stores — DynamoDB and
S3 on moto's server over real HTTP (``SchemaClient(aws=...)``, support/aws_stores.py).

A test that must work on both reads the stores through the backend-neutral helpers
(``items_now``, ``blob_keys``, ``download``, ``send_bytes``); ``store`` and ``blobs`` are the
in-memory fakes themselves, so a test that reaches into them is local by nature."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.blobs.memory import InMemoryBlobStore
from adapters.events.memory import MemoryFileEventBus
from adapters.identity.memory_accounts import InMemoryIdentityAccounts
from adapters.items.memory import InMemoryItemStore
from domain.accounts import AccountDeletion, AccountService, DataExports
from domain.cursor_signer import CursorSigner
from domain.files import FileLimits, FileService, new_file_id
from domain.ids import to_global_id
from domain.models import Principal
from domain.ports import BlobStore, Delete, Item, ItemStore, Key
from domain.search.service import SearchService
from domain.users import UserProfiles, UserRepository
from resolvers.context import Context
from resolvers.schema import build_schema
from resolvers.services import Services
from tests.support.aws_stores import AwsStores, all_items
from tests.support.clock import FakeClock

FIXED_NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@dataclass
class GraphQLResult:
    data: Any
    errors: list[dict[str, Any]]

    @property
    def codes(self) -> list[str]:
        return [error["extensions"]["code"] for error in self.errors]


FILE_FIELDS = (
    "id name contentType size sha256 status visibility description tags version "
    "createdAt updatedAt downloadUrl owner { username }"
)
CREATE_UPLOAD = f"""
mutation($input: CreateUploadInput!) {{
  createUpload(input: $input) {{
    file {{ {FILE_FIELDS} }}
    upload {{ url method fields headers expiresAt }}
  }}
}}"""
COMPLETE_UPLOAD = f"mutation($id: ID!) {{ completeUpload(id: $id) {{ {FILE_FIELDS} }} }}"


class SchemaClient:
    def __init__(
        self,
        wrap_store: Callable[[ItemStore], ItemStore] | None = None,
        aws: AwsStores | None = None,
    ) -> None:
        self.aws = aws
        # FIXED_NOW until a test moves it on (to give files distinct creation times).
        self.clock = FakeClock(FIXED_NOW)
        self._store: ItemStore = InMemoryItemStore() if aws is None else aws.items
        self.blob_store: BlobStore = (
            InMemoryBlobStore(max_expiry=3600, clock=self.clock.seconds)
            if aws is None
            else aws.blobs
        )
        # What the services use: the store itself, or a wrapper (counting, interleaving).
        self.items: ItemStore = self._store if wrap_store is None else wrap_store(self._store)
        users = UserRepository(self.items)
        cursors = CursorSigner(b"functional-tests-cursor-key-0123456789")
        self.events = MemoryFileEventBus()
        profiles = UserProfiles(users, clock=self.clock)
        self.identity = InMemoryIdentityAccounts()
        files = FileService(
            items=self.items,
            blobs=self.blob_store,
            clock=self.clock,
            id_factory=new_file_id,
            limits=FileLimits(
                max_upload_bytes=10 * 1024 * 1024,
                quota_bytes=50 * 1024 * 1024,
                pending_ttl_seconds=3600,
                upload_expiry_seconds=900,
            ),
            events=self.events,
        )
        deletion = AccountDeletion(
            self.items, self.blob_store, users, files, self.identity, clock=self.clock
        )
        self.services = Services(
            users=users,
            profiles=profiles,
            files=files,
            cursors=cursors,
            search=SearchService(items=self.items, cursors=cursors, clock=self.clock),
            file_events=self.events,
            accounts=AccountService(
                profiles,
                self.identity,
                deletion,
                DataExports(self.items, self.blob_store, users, clock=self.clock),
            ),
        )
        self.schema = build_schema()

    @property
    def backend(self) -> str:
        return "local" if self.aws is None else "aws"

    @property
    def store(self) -> InMemoryItemStore:
        """The in-memory item store (local only: its dict is what a test then reads)."""
        assert isinstance(self._store, InMemoryItemStore), "the in-memory store: local only"
        return self._store

    @property
    def blobs(self) -> InMemoryBlobStore:
        """The in-memory blob store (local only)."""
        assert isinstance(self.blob_store, InMemoryBlobStore), "the in-memory blobs: local only"
        return self.blob_store

    async def items_now(self) -> dict[tuple[str, str], Item]:
        """Every stored item by (pk, sk), read from the store itself (a scan on DynamoDB)."""
        return await all_items(self._store)

    async def drop_item(self, key: Key) -> None:
        """Remove one item behind the services' back (a corrupted or half-written store)."""
        await self._store.write([Delete(key)])

    def blob_keys(self) -> set[str]:
        """Every object key the blob store holds."""
        if self.aws is None:
            return set(self.blobs.objects)
        pages = self.aws.s3.get_paginator("list_objects_v2").paginate(Bucket=self.aws.bucket)
        return {entry["Key"] for page in pages for entry in page.get("Contents", [])}

    def download(self, url: str) -> tuple[bytes, str]:
        """Follow a download URL as a browser does: its bytes and Content-Disposition."""
        if self.aws is None:
            blob, disposition = self.blobs.open_download(url)
            return blob.data, disposition
        response = httpx.get(url, timeout=10.0)
        assert response.status_code == 200, response.status_code
        return response.content, response.headers.get("content-disposition", "")

    async def sign_in(self, principal: Principal) -> Principal:
        await self.services.profiles.ensure_profile(principal)
        return principal

    async def execute(
        self,
        query: str,
        principal: Principal | None = None,
        variables: dict[str, Any] | None = None,
        auth_error: Exception | None = None,
    ) -> GraphQLResult:
        context = Context(request_id="req-test", services=self.services, principal=principal)
        if auth_error is not None:
            context.auth_error = auth_error  # type: ignore[assignment]
        result = await self.schema.execute(query, variable_values=variables, context_value=context)
        errors = [dict(error.formatted) for error in result.errors or []]
        return GraphQLResult(data=result.data, errors=errors)

    async def create_upload(
        self, principal: Principal, data: bytes = b"hello", **declared: Any
    ) -> dict[str, Any]:
        """createUpload's payload ({file, upload}); the size defaults to len(data)."""
        fields = {"name": "notes.txt", "contentType": "text/plain", "size": len(data)}
        result = await self.execute(CREATE_UPLOAD, principal, {"input": fields | declared})
        assert result.errors == [], result.errors
        payload: dict[str, Any] = result.data["createUpload"]
        return payload

    def send_bytes(self, upload: dict[str, Any], data: bytes) -> None:
        """What a client does with an upload target: S3's POST form over HTTP, or the fake
        store's PUT (which checks it as S3 would)."""
        if self.aws is not None:
            self.aws.send_form(upload, data)
            return
        assert upload["method"] == "PUT"
        self.blobs.receive_upload(upload["url"], data, upload["headers"])

    async def upload(
        self, principal: Principal, data: bytes = b"hello", **declared: Any
    ) -> dict[str, Any]:
        """A READY file made the way a client makes one; one second after the last."""
        self.clock.advance(1)
        payload = await self.create_upload(principal, data, **declared)
        self.send_bytes(payload["upload"], data)
        result = await self.execute(COMPLETE_UPLOAD, principal, {"id": payload["file"]["id"]})
        assert result.errors == [], result.errors
        file: dict[str, Any] = result.data["completeUpload"]
        return file


def user_gid(principal: Principal) -> str:
    return to_global_id("User", principal.user_id)


ALICE = Principal(user_id="u-alice", username="alice", email="alice@example.com", groups=())
BOB = Principal(user_id="u-bob", username="bob", email="bob@example.com", groups=())
ADMIN = Principal(user_id="u-root", username="root", email="root@example.com", groups=("admin",))
