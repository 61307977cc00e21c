"""Execute the real schema with a Principal over the in-memory store."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.memory_blobs import InMemoryBlobStore
from adapters.memory_items import InMemoryItemStore
from domain.cursor_signer import CursorSigner
from domain.file_items import new_file_id
from domain.file_service import FileService
from domain.models import Principal
from domain.users import UserProfiles, UserRepository
from resolvers.context import Context, Services
from resolvers.schema import build_schema

FIXED_NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@dataclass
class GraphQLResult:
    data: Any
    errors: list[dict[str, Any]]

    @property
    def codes(self) -> list[str]:
        return [error["extensions"]["code"] for error in self.errors]


class SchemaClient:
    def __init__(self) -> None:
        self.store = InMemoryItemStore()
        self.blobs = InMemoryBlobStore(max_expiry=3600)
        users = UserRepository(self.store)
        self.services = Services(
            users=users,
            profiles=UserProfiles(users, clock=lambda: FIXED_NOW),
            files=FileService(
                items=self.store,
                blobs=self.blobs,
                clock=lambda: FIXED_NOW,
                id_factory=new_file_id,
                max_upload_bytes=10 * 1024 * 1024,
                quota_bytes=50 * 1024 * 1024,
                pending_ttl_seconds=3600,
                upload_expiry_seconds=900,
            ),
            cursors=CursorSigner(b"functional-tests-cursor-key-0123456789"),
        )
        self.schema = build_schema()

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


@pytest.fixture
def client() -> SchemaClient:
    return SchemaClient()


ALICE = Principal(user_id="u-alice", username="alice", email="alice@example.com", groups=())
BOB = Principal(user_id="u-bob", username="bob", email="bob@example.com", groups=())
ADMIN = Principal(user_id="u-root", username="root", email="root@example.com", groups=("admin",))
