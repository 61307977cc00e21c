"""Execute the real schema with a Principal over the in-memory store."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.memory_items import InMemoryItemStore
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
        users = UserRepository(self.store)
        self.services = Services(users=users, profiles=UserProfiles(users, clock=lambda: FIXED_NOW))
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
