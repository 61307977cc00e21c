"""The development identity provider: its key file, accounts, passwords and tokens."""

import asyncio
import base64
import hashlib
import stat
from pathlib import Path
from typing import Any

import pytest

from adapters.identity.dev_idp import DevIdentityProvider, DevIdpKeyError
from adapters.identity.jwks_sources import StaticJwksSource
from adapters.identity.jwt_verifier import JwtVerifier
from adapters.identity.passwords import ScryptHasher
from adapters.items.memory import InMemoryItemStore
from domain.errors import ConflictError, InvalidInputError, NotFoundError, UnauthenticatedError
from domain.models import Principal
from domain.ports import IdentityUser, Key
from tests.support.jwt_factory import unverified_claims, unverified_header

ISSUER = "http://localhost:8000/auth"
CLIENT_ID = "local-dev-client"
PASSWORD = "correct horse battery"
# Cheap scrypt for speed; production defaults are covered by test_default_hash_parameters.
FAST_HASHER = ScryptHasher(n=2**8, r=8, p=1)


def make_idp(
    tmp_path: Path, store: InMemoryItemStore | None = None, **kwargs: Any
) -> DevIdentityProvider:
    return DevIdentityProvider(
        store or InMemoryItemStore(),
        tmp_path / "data" / "dev-idp-key.pem",
        ISSUER,
        CLIENT_ID,
        hasher=kwargs.pop("hasher", FAST_HASHER),
        **kwargs,
    )


def verifier_for(idp: DevIdentityProvider) -> JwtVerifier:
    return JwtVerifier(
        issuer=ISSUER, client_ids=[CLIENT_ID], jwks_source=StaticJwksSource(idp.jwks())
    )


@pytest.fixture
def store() -> InMemoryItemStore:
    return InMemoryItemStore()


@pytest.fixture
def idp(tmp_path: Path, store: InMemoryItemStore) -> DevIdentityProvider:
    return make_idp(tmp_path, store)


# --- signing key -----------------------------------------------------------------------


def test_key_file_is_private_and_reused_across_restarts(tmp_path: Path) -> None:
    first = make_idp(tmp_path)
    key_path = tmp_path / "data" / "dev-idp-key.pem"
    assert not key_path.exists()  # nothing happens until the key is needed
    kid = first.kid
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    pem = key_path.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")

    second = make_idp(tmp_path)
    assert second.kid == kid
    assert second.jwks() == first.jwks()
    assert key_path.read_bytes() == pem
    assert [p.name for p in key_path.parent.iterdir()] == [key_path.name]  # no temp files


async def test_tokens_survive_a_restart(tmp_path: Path, store: InMemoryItemStore) -> None:
    await make_idp(tmp_path, store).signup("alice", PASSWORD)
    tokens = await make_idp(tmp_path, store).authenticate("alice", PASSWORD)
    restarted = make_idp(tmp_path, store)
    assert (await verifier_for(restarted).verify(tokens.id_token)).username == "alice"


def test_kid_is_the_rfc7638_thumbprint(idp: DevIdentityProvider) -> None:
    (jwk,) = idp.jwks()["keys"]
    canonical = f'{{"e":"{jwk["e"]}","kty":"RSA","n":"{jwk["n"]}"}}'
    digest = hashlib.sha256(canonical.encode()).digest()
    assert idp.kid == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert jwk["kid"] == idp.kid


def test_jwks_holds_only_public_members(idp: DevIdentityProvider) -> None:
    (jwk,) = idp.jwks()["keys"]
    assert set(jwk) == {"kty", "kid", "use", "alg", "n", "e"}
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RS256" and jwk["use"] == "sig"


def test_corrupt_key_file_is_reported_not_replaced(tmp_path: Path) -> None:
    key_path = tmp_path / "data" / "dev-idp-key.pem"
    key_path.parent.mkdir()
    key_path.write_bytes(b"not a key")
    with pytest.raises(DevIdpKeyError):
        make_idp(tmp_path).jwks()
    assert key_path.read_bytes() == b"not a key"


async def test_racing_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    # Several processes (here: instances) starting at once must not end up signing with
    # keys that differ from the one left in the file.
    idps = [make_idp(tmp_path) for _ in range(6)]
    await asyncio.gather(*(idp.ensure_key() for idp in idps))
    assert {idp.kid for idp in idps} == {make_idp(tmp_path).kid}


# --- sign-up and sign-in ---------------------------------------------------------------


async def test_signup_then_authenticate_gives_verifiable_tokens(
    idp: DevIdentityProvider,
) -> None:
    user = await idp.signup("Alice", PASSWORD, "alice@example.com")
    assert user.username == "Alice"
    tokens = await idp.authenticate("Alice", PASSWORD)
    assert tokens.token_type == "Bearer"
    assert tokens.expires_in == 3600

    verifier = verifier_for(idp)
    principal = await verifier.verify(tokens.id_token)
    assert principal == Principal(
        user_id=user.user_id,
        username="Alice",
        email="alice@example.com",
        groups=(),
        token_use="id",
        auth_time=principal.auth_time,
    )
    assert principal.auth_time == unverified_claims(tokens.id_token)["auth_time"]
    access = await verifier.verify(tokens.access_token)
    assert (access.user_id, access.username, access.token_use) == (user.user_id, "Alice", "access")


async def test_token_shapes_match_cognito(tmp_path: Path) -> None:
    idp = make_idp(tmp_path, clock=lambda: 1_800_000_000.5, token_ttl_seconds=900)
    user = await idp.signup("alice", PASSWORD, "alice@example.com")
    tokens = await idp.authenticate("alice", PASSWORD)
    for token in (tokens.id_token, tokens.access_token):
        assert unverified_header(token) == {"alg": "RS256", "kid": idp.kid, "typ": "JWT"}

    id_token = unverified_claims(tokens.id_token)
    assert set(id_token) == {
        "iss", "sub", "aud", "token_use", "cognito:username", "email",
        "auth_time", "iat", "exp", "jti",
    }  # fmt: skip
    assert id_token["iss"] == ISSUER
    assert id_token["sub"] == user.user_id
    assert id_token["aud"] == CLIENT_ID
    assert id_token["token_use"] == "id"
    assert id_token["iat"] == id_token["auth_time"] == 1_800_000_000
    assert id_token["exp"] == 1_800_000_900

    access = unverified_claims(tokens.access_token)
    assert set(access) == {
        "iss", "sub", "client_id", "token_use", "username", "scope",
        "auth_time", "iat", "exp", "jti",
    }  # fmt: skip
    assert access["client_id"] == CLIENT_ID
    assert access["token_use"] == "access"
    assert access["username"] == "alice"
    assert access["jti"] != id_token["jti"]


async def test_username_is_case_insensitive_for_sign_in(idp: DevIdentityProvider) -> None:
    await idp.signup("Alice", PASSWORD)
    tokens = await idp.authenticate("ALICE", PASSWORD)
    assert unverified_claims(tokens.id_token)["cognito:username"] == "Alice"


async def test_finding_a_user_by_username_takes_the_exact_name(idp: DevIdentityProvider) -> None:
    """Sign-in forgives letter case; a restore mapping owners by username must not."""
    alice = await idp.signup("Alice", PASSWORD)
    assert await idp.find_users_by_username("Alice") == [IdentityUser("Alice", alice.user_id)]
    assert await idp.find_users_by_username("alice") == []
    assert await idp.find_users_by_username("nobody") == []
    assert await idp.find_users_by_username("not a username!") == []


@pytest.mark.parametrize("second_name", ["alice", "ALICE", "aLiCe"])
async def test_taken_username_conflicts_and_first_user_is_untouched(
    idp: DevIdentityProvider, second_name: str
) -> None:
    first = await idp.signup("alice", PASSWORD, "alice@example.com")
    with pytest.raises(ConflictError, match="Username already exists"):
        await idp.signup(second_name, "another password", "mallory@example.com")
    tokens = await idp.authenticate("alice", PASSWORD)
    principal = await verifier_for(idp).verify(tokens.id_token)
    assert principal.user_id == first.user_id
    assert principal.email == "alice@example.com"
    with pytest.raises(UnauthenticatedError):
        await idp.authenticate("alice", "another password")


async def test_concurrent_signups_for_one_name_let_exactly_one_win(
    idp: DevIdentityProvider,
) -> None:
    results = await asyncio.gather(
        *(idp.signup(name, f"password-{i}") for i, name in enumerate(["bob", "Bob", "BOB"])),
        return_exceptions=True,
    )
    assert sum(isinstance(result, ConflictError) for result in results) == 2


async def test_wrong_password_and_unknown_user_fail_identically(
    idp: DevIdentityProvider,
) -> None:
    await idp.signup("alice", PASSWORD)
    failures = []
    for username, password in [
        ("alice", "wrong password"),
        ("nobody", PASSWORD),
        ("x", PASSWORD),  # not even a valid username
        ("alice", ""),
    ]:
        with pytest.raises(UnauthenticatedError) as caught:
            await idp.authenticate(username, password)
        failures.append((type(caught.value), str(caught.value)))
    assert set(failures) == {(UnauthenticatedError, "Incorrect username or password")}


async def test_unknown_user_costs_a_full_password_hash(
    idp: DevIdentityProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    await idp.signup("alice", PASSWORD)
    calls: list[int] = []
    real_scrypt = hashlib.scrypt

    def counting_scrypt(password: bytes, **kwargs: Any) -> bytes:
        calls.append(kwargs["n"])
        return real_scrypt(password, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting_scrypt)
    for username in ("alice", "nobody"):
        with pytest.raises(UnauthenticatedError):
            await idp.authenticate(username, "wrong password")
    assert calls == [FAST_HASHER.n, FAST_HASHER.n]


async def test_stored_credentials_hold_no_plaintext_password(
    idp: DevIdentityProvider, store: InMemoryItemStore
) -> None:
    user = await idp.signup("Alice", PASSWORD, "alice@example.com")
    item = store.items[("IDP#alice", "CREDENTIALS")]
    assert PASSWORD not in repr(item)
    assert item["password_hash"].startswith("scrypt$256$8$1$")
    assert item["username"] == "Alice"
    assert item["user_id"] == user.user_id
    assert item["email"] == "alice@example.com"
    assert item["groups"] == []
    assert item["version"] == 1
    assert item["created_at"].endswith("+00:00")


async def test_same_password_hashes_differently_per_user(
    idp: DevIdentityProvider, store: InMemoryItemStore
) -> None:
    await idp.signup("alice", PASSWORD)
    await idp.signup("bob", PASSWORD)
    hashes = {
        store.items[("IDP#alice", "CREDENTIALS")]["password_hash"],
        store.items[("IDP#bob", "CREDENTIALS")]["password_hash"],
    }
    assert len(hashes) == 2


@pytest.mark.parametrize(
    ("username", "password", "email", "mentions"),
    [
        ("al", PASSWORD, None, "Username"),
        ("a" * 65, PASSWORD, None, "Username"),
        ("-alice", PASSWORD, None, "Username"),
        ("alice smith", PASSWORD, None, "Username"),
        ("alice\n", PASSWORD, None, "Username"),
        ("ålice", PASSWORD, None, "Username"),
        ("alice", "short", None, "Password"),
        ("alice", "x" * 257, None, "Password"),
        ("alice", " " * 12, None, "whitespace"),
        ("alice", PASSWORD, "not-an-email", "Email"),
        ("alice", PASSWORD, "a@b", "Email"),
        ("alice", PASSWORD, "", "Email"),
    ],
)
async def test_invalid_signup_input_is_refused_clearly(
    idp: DevIdentityProvider,
    store: InMemoryItemStore,
    username: str,
    password: str,
    email: str | None,
    mentions: str,
) -> None:
    with pytest.raises(InvalidInputError, match=mentions):
        await idp.signup(username, password, email)
    assert store.items == {}


async def test_boundary_usernames_and_passwords_are_accepted(idp: DevIdentityProvider) -> None:
    await idp.signup("abc", "x" * 8)
    await idp.signup("a" * 64, "y" * 256, "first.last+tag@mail.example.co.uk")
    await idp.signup("j.doe_2-x", "  spaced password  ")
    assert await idp.authenticate("j.doe_2-x", "  spaced password  ")


def test_default_hash_parameters_are_production_grade() -> None:
    encoded = ScryptHasher().hash(PASSWORD)
    scheme, n, r, p, _salt, _digest = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert ScryptHasher().verify(PASSWORD, encoded)
    assert not ScryptHasher().verify(PASSWORD + "!", encoded)


@pytest.mark.parametrize(
    "stored", [None, "", "!unusable", "scrypt$16$8$1$!!$!!", "scrypt$3$8$1$AAAA$AAAA", "md5$x"]
)
def test_unusable_stored_hashes_never_match(stored: str | None) -> None:
    assert not FAST_HASHER.verify("", stored)
    assert not FAST_HASHER.verify(PASSWORD, stored)


# --- tokens for the CLI ------------------------------------------------------------------


async def test_issue_tokens_for_creates_user_with_groups(
    idp: DevIdentityProvider, store: InMemoryItemStore
) -> None:
    tokens = await idp.issue_tokens_for("carol", groups=["admin"])
    principal = await verifier_for(idp).verify(tokens.id_token)
    assert principal.username == "carol"
    assert principal.groups == ("admin",)
    assert principal.is_admin
    assert unverified_claims(tokens.access_token)["cognito:groups"] == ["admin"]
    # The user was created without a password anyone could know.
    item = store.items[("IDP#carol", "CREDENTIALS")]
    assert not item["password_hash"].startswith("scrypt$")
    with pytest.raises(UnauthenticatedError):
        await idp.authenticate("carol", item["password_hash"])


async def test_issue_tokens_for_merges_groups_and_keeps_identity(
    idp: DevIdentityProvider, store: InMemoryItemStore
) -> None:
    user = await idp.signup("dave", PASSWORD)
    await idp.issue_tokens_for("dave", groups=["admin"])
    tokens = await idp.issue_tokens_for("DAVE", groups=["ops", "admin"])
    principal = await verifier_for(idp).verify(tokens.id_token)
    assert principal.user_id == user.user_id
    assert principal.groups == ("admin", "ops")
    item = store.items[("IDP#dave", "CREDENTIALS")]
    assert item["version"] == 3
    # Groups stick: a later password sign-in carries them too.
    again = await idp.authenticate("dave", PASSWORD)
    assert unverified_claims(again.id_token)["cognito:groups"] == ["admin", "ops"]


async def test_issue_tokens_for_without_groups_changes_nothing(
    idp: DevIdentityProvider, store: InMemoryItemStore
) -> None:
    await idp.signup("erin", PASSWORD)
    tokens = await idp.issue_tokens_for("erin")
    assert "cognito:groups" not in unverified_claims(tokens.id_token)
    assert store.items[("IDP#erin", "CREDENTIALS")]["version"] == 1


async def test_issue_tokens_for_can_refuse_to_create(idp: DevIdentityProvider) -> None:
    with pytest.raises(NotFoundError):
        await idp.issue_tokens_for("ghost", create_if_missing=False)


@pytest.mark.parametrize(
    ("username", "groups"), [("x", ()), ("frank", ["bad group"]), ("frank", "admin")]
)
async def test_issue_tokens_for_validates_input(
    idp: DevIdentityProvider, username: str, groups: Any
) -> None:
    with pytest.raises(InvalidInputError):
        await idp.issue_tokens_for(username, groups=groups)


async def test_issue_tokens_for_retries_when_the_user_changes_underneath(
    idp: DevIdentityProvider, store: InMemoryItemStore
) -> None:
    await idp.signup("gina", PASSWORD)
    real_write = store.write
    raced = False

    async def racing_write(ops: Any) -> None:
        nonlocal raced
        if not raced:
            raced = True
            # Another writer bumps the version between our read and our write.
            item = dict(store.items[("IDP#gina", "CREDENTIALS")])
            store.items[("IDP#gina", "CREDENTIALS")] = {
                **item,
                "groups": ["ops"],
                "version": item["version"] + 1,
            }
        await real_write(ops)

    store.write = racing_write  # type: ignore[method-assign]
    tokens = await idp.issue_tokens_for("gina", groups=["admin"])
    assert unverified_claims(tokens.id_token)["cognito:groups"] == ["ops", "admin"]
    (item,) = await store.get_many([Key("IDP#gina", "CREDENTIALS")])
    assert item is not None and item["groups"] == ["ops", "admin"]
