"""IdentityAccounts.find_users_by_username, one contract for the fake, the dev IdP and
Cognito (moto's server over HTTP): a restore that maps owners by username relies on it
finding exactly the user of that name, and no one for a near name."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from adapters.identity.cognito_accounts import CognitoAccounts
from adapters.identity.memory_accounts import InMemoryIdentityAccounts
from adapters.items.memory import InMemoryItemStore
from domain.ports import IdentityAccounts, IdentityUser
from ops.aws_resources import create_user_pool
from tests.support.aws_stores import shared_clients
from tests.support.local_backup import PASSWORD, dev_idp
from tests.support.moto_server import shared_moto_server, unique_name

# Makes a user of that name in the provider; returns their id.
AddUser = Callable[[str], Awaitable[str]]
Provider = Callable[[Path], AbstractAsyncContextManager[tuple[IdentityAccounts, AddUser]]]


@asynccontextmanager
async def fake(tmp_path: Path) -> AsyncIterator[tuple[IdentityAccounts, AddUser]]:
    accounts = InMemoryIdentityAccounts()

    async def add(username: str) -> str:
        accounts.users.append(IdentityUser(username, f"id-{len(accounts.users)}"))
        return accounts.users[-1].user_id

    yield accounts, add


@asynccontextmanager
async def dev(tmp_path: Path) -> AsyncIterator[tuple[IdentityAccounts, AddUser]]:
    idp = dev_idp(InMemoryItemStore(), tmp_path)

    async def add(username: str) -> str:
        return (await idp.signup(username, PASSWORD)).user_id

    yield idp, add


@asynccontextmanager
async def cognito(tmp_path: Path) -> AsyncIterator[tuple[IdentityAccounts, AddUser]]:
    client = shared_clients(shared_moto_server())[2]
    pool_id, _ = create_user_pool(client, unique_name("lookup"))

    async def add(username: str) -> str:
        client.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
        attributes = client.admin_get_user(UserPoolId=pool_id, Username=username)
        return next(a["Value"] for a in attributes["UserAttributes"] if a["Name"] == "sub")

    try:
        yield CognitoAccounts(client, pool_id), add
    finally:
        client.delete_user_pool(UserPoolId=pool_id)


PROVIDERS: list[Provider] = [fake, dev, cognito]


@pytest.mark.parametrize("provider", PROVIDERS, ids=["fake", "dev-idp", "cognito-moto"])
async def test_the_exact_name_finds_its_user_and_nothing_else_does(
    tmp_path: Path, provider: Provider
) -> None:
    async with provider(tmp_path) as (accounts, add):
        alice = await add("alice")
        await add("alice.b")
        assert await accounts.find_users_by_username("alice") == [IdentityUser("alice", alice)]
        assert await accounts.find_users_by_username("Alice") == []
        assert await accounts.find_users_by_username("alic") == []
        assert await accounts.find_users_by_username("nobody") == []
