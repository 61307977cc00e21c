"""The sign-out check folded into a request's first read (resolvers/session_check.py):
what the caller reads through it, and that every waiter learns how it ended."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from adapters.items.memory import InMemoryItemStore
from domain.errors import DomainError
from domain.models import Principal, User
from domain.ports import Put
from domain.users import UserProfiles, UserRepository, profile_item, profile_key
from resolvers.session_check import SessionCheck

DORA = Principal(user_id="u-dora", username="dora", email="dora@example.com")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _check(store: InMemoryItemStore) -> tuple[SessionCheck, list[User], list[DomainError]]:
    admitted: list[User] = []
    refused: list[DomainError] = []
    profiles = UserProfiles(UserRepository(store), clock=lambda: NOW)
    check = SessionCheck(
        DORA, profiles, store.get_many, admitted=admitted.append, refused=refused.append
    )
    return check, admitted, refused


def _dora(email: str | None = "dora@example.com") -> User:
    return User(
        id=DORA.user_id,
        username="dora",
        display_name="Dora",
        email=email,
        groups=(),
        created_at=NOW,
        updated_at=NOW,
    )


async def test_an_unchanged_profile_reads_as_stored() -> None:
    store = InMemoryItemStore()
    stored = {**profile_item(_dora()), "extra": "kept"}
    await store.write([Put(stored)])
    check, admitted, _ = _check(store)
    [item] = await check.read_through(store.get_many, [profile_key(DORA.user_id)])
    assert item == stored and check.passed
    assert [user.display_name for user in admitted] == ["Dora"]


async def test_a_synced_profile_reads_as_admitted() -> None:
    store = InMemoryItemStore()
    await store.write([Put(profile_item(_dora(email="old@example.com")))])
    check, _, _ = _check(store)
    [item] = await check.read_through(store.get_many, [profile_key(DORA.user_id)])
    assert item is not None and item["email"] == "dora@example.com"


async def test_a_profile_that_does_not_parse_fails_every_waiter() -> None:
    store = InMemoryItemStore()
    key = profile_key(DORA.user_id)
    await store.write([Put({"pk": key.pk, "sk": key.sk, "type": "User"})])  # no id, no name
    check, admitted, refused = _check(store)
    first = asyncio.create_task(check.read_through(store.get_many, [key]))
    await asyncio.sleep(0)  # the first read is under way: the second waits on it
    second = asyncio.create_task(check.wait())
    outcomes = await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), 5)
    assert [type(outcome) for outcome in outcomes] == [KeyError, KeyError]
    assert not check.passed and admitted == [] and refused == []
