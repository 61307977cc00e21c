"""Refresh tokens of the development identity provider: opaque, stored hashed, rotated on
every use, a reused one revokes its family; sign-out and password change void them all."""

import asyncio
import json
from pathlib import Path

import pytest

from adapters.identity.dev_idp import DevIdentityProvider
from adapters.identity.jwks_sources import StaticJwksSource
from adapters.identity.jwt_verifier import JwtVerifier
from adapters.identity.passwords import ScryptHasher
from adapters.items.memory import InMemoryItemStore
from domain.errors import InvalidInputError, UnauthenticatedError
from domain.ports import Item
from tests.support.clock import FakeClock
from tests.support.jwt_factory import unverified_claims
from tests.support.stores import InterleavingItemStore

ISSUER = "http://localhost:8000/auth"
CLIENT_ID = "local-dev-client"
PASSWORD = "correct horse battery"
NEW_PASSWORD = "tr0ub4dor and more"
DAY = 86_400


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> InMemoryItemStore:
    return InMemoryItemStore()


@pytest.fixture
async def idp(tmp_path: Path, store: InMemoryItemStore, clock: FakeClock) -> DevIdentityProvider:
    idp = DevIdentityProvider(
        store,
        tmp_path / "dev-idp-key.pem",
        ISSUER,
        CLIENT_ID,
        clock=clock.seconds,
        hasher=ScryptHasher(n=2**8, r=8, p=1),
    )
    await idp.signup("alice", PASSWORD)
    return idp


async def refused(idp: DevIdentityProvider, refresh_token: str) -> None:
    with pytest.raises(UnauthenticatedError, match="Refresh token is not valid"):
        await idp.refresh(refresh_token)


async def all_items(store: InMemoryItemStore) -> list[Item]:
    return [item async for page in store.scan() for item in page]


async def test_sign_in_gives_an_opaque_refresh_token_stored_only_as_a_hash(
    idp: DevIdentityProvider, store: InMemoryItemStore
) -> None:
    tokens = await idp.authenticate("alice", PASSWORD)
    refresh_token = tokens.refresh_token
    assert refresh_token is not None
    assert len(refresh_token) >= 43  # 32 random bytes, base64url: 256 bits
    assert refresh_token.count(".") == 0  # not a JWT: nothing to read in it
    assert refresh_token not in json.dumps(await all_items(store))
    other = await idp.authenticate("alice", PASSWORD)
    assert other.refresh_token != refresh_token


async def test_refresh_rotates_and_keeps_the_sign_in_time(
    idp: DevIdentityProvider, clock: FakeClock
) -> None:
    first = await idp.authenticate("alice", PASSWORD)
    assert first.refresh_token is not None
    clock.advance(600)
    second = await idp.refresh(first.refresh_token)
    assert second.refresh_token is not None and second.refresh_token != first.refresh_token
    verifier = JwtVerifier(
        issuer=ISSUER,
        client_ids=[CLIENT_ID],
        jwks_source=StaticJwksSource(idp.jwks()),
        clock=clock.seconds,
    )
    principal = await verifier.verify(second.access_token)
    assert principal.username == "alice"
    claims, original = unverified_claims(second.id_token), unverified_claims(first.id_token)
    assert claims["iat"] == original["iat"] + 600
    assert claims["auth_time"] == original["auth_time"] == principal.auth_time
    third = await idp.refresh(second.refresh_token)
    assert third.refresh_token not in (None, first.refresh_token, second.refresh_token)


async def test_a_reused_refresh_token_revokes_its_whole_family_only(
    idp: DevIdentityProvider,
) -> None:
    stolen = await idp.authenticate("alice", PASSWORD)
    other_device = await idp.authenticate("alice", PASSWORD)
    assert stolen.refresh_token and other_device.refresh_token
    rotated = await idp.refresh(stolen.refresh_token)
    assert rotated.refresh_token is not None

    await refused(idp, stolen.refresh_token)  # replayed: the family dies
    await refused(idp, rotated.refresh_token)  # ... the legitimate holder's token too
    assert (await idp.refresh(other_device.refresh_token)).refresh_token  # another family


async def test_two_concurrent_uses_of_one_token_leave_no_winner(
    tmp_path: Path, clock: FakeClock
) -> None:
    # Every store call yields, so the four refreshes really read before any of them writes.
    idp = DevIdentityProvider(
        InterleavingItemStore(InMemoryItemStore()),
        tmp_path / "dev-idp-key.pem",
        ISSUER,
        CLIENT_ID,
        clock=clock.seconds,
        hasher=ScryptHasher(n=2**8, r=8, p=1),
    )
    await idp.signup("alice", PASSWORD)
    tokens = await idp.authenticate("alice", PASSWORD)
    assert tokens.refresh_token is not None
    outcomes = await asyncio.gather(
        *(idp.refresh(tokens.refresh_token) for _ in range(4)), return_exceptions=True
    )
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(winners) <= 1
    assert all(isinstance(o, UnauthenticatedError) for o in outcomes if o not in winners)
    for winner in winners:  # the losers' attempts were reuse: the family is gone
        assert winner.refresh_token is not None
        await refused(idp, winner.refresh_token)


@pytest.mark.parametrize(
    "forged", ["", "x", "A" * 43, "A" * 10_000, "eyJhbGciOiJub25lIn0.e30."], ids=repr
)
async def test_forged_or_unknown_refresh_tokens_are_refused(
    idp: DevIdentityProvider, forged: str
) -> None:
    await refused(idp, forged)


async def test_a_family_expires_thirty_days_after_sign_in_however_often_rotated(
    idp: DevIdentityProvider, clock: FakeClock
) -> None:
    token = (await idp.authenticate("alice", PASSWORD)).refresh_token
    for _ in range(3):
        clock.advance(9 * DAY)
        assert token is not None
        token = (await idp.refresh(token)).refresh_token
    clock.advance(3 * DAY + 1)
    assert token is not None
    await refused(idp, token)


async def test_sign_out_everywhere_voids_every_family(idp: DevIdentityProvider) -> None:
    tokens = [await idp.authenticate("alice", PASSWORD) for _ in range(3)]
    await idp.sign_out_everywhere("alice")
    for token in tokens:
        assert token.refresh_token is not None
        await refused(idp, token.refresh_token)
    after = (await idp.authenticate("alice", PASSWORD)).refresh_token
    assert after is not None and (await idp.refresh(after)).refresh_token


async def test_password_change_checks_both_passwords_and_voids_refresh_tokens(
    idp: DevIdentityProvider, store: InMemoryItemStore
) -> None:
    before = await idp.authenticate("alice", PASSWORD)
    assert before.refresh_token is not None
    items = await all_items(store)

    with pytest.raises(UnauthenticatedError, match="Incorrect username or password"):
        await idp.change_password("alice", "not the password", NEW_PASSWORD)
    with pytest.raises(InvalidInputError, match="8 to 256"):
        await idp.change_password("alice", PASSWORD, "short")
    with pytest.raises(UnauthenticatedError):
        await idp.change_password("nobody", PASSWORD, NEW_PASSWORD)
    assert await all_items(store) == items  # nothing changed

    await idp.change_password("alice", PASSWORD, NEW_PASSWORD)
    await refused(idp, before.refresh_token)
    with pytest.raises(UnauthenticatedError):
        await idp.authenticate("alice", PASSWORD)
    assert (await idp.authenticate("alice", NEW_PASSWORD)).refresh_token


async def test_a_deleted_identity_cannot_sign_in_or_refresh(idp: DevIdentityProvider) -> None:
    tokens = await idp.authenticate("alice", PASSWORD)
    assert tokens.refresh_token is not None
    await idp.delete_identity("alice")
    await idp.delete_identity("alice")  # idempotent
    await refused(idp, tokens.refresh_token)
    with pytest.raises(UnauthenticatedError):
        await idp.authenticate("alice", PASSWORD)
    # The name is free again, and the old family does not carry over to the new user.
    await idp.signup("alice", PASSWORD)
    await refused(idp, tokens.refresh_token)
