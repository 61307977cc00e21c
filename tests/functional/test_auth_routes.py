"""The dev identity provider's HTTP routes, mounted under /auth as the app mounts them."""

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from adapters.blobs.memory import InMemoryBlobStore
from adapters.identity.dev_idp import DevIdentityProvider
from adapters.identity.jwks_sources import StaticJwksSource
from adapters.identity.jwt_verifier import JwtVerifier
from adapters.identity.passwords import ScryptHasher
from adapters.items.memory import InMemoryItemStore
from api.auth_routes import auth_routes
from api.bootstrap import build_services
from api.settings import load_settings
from domain.ports import Item, Key, WriteOp
from tests.support.jwt_factory import unverified_header

ISSUER = "http://localhost:8000/auth"
CLIENT_ID = "local-dev-client"
PASSWORD = "correct horse battery"


def build_idp(tmp_path: Path, store: Any = None) -> DevIdentityProvider:
    return DevIdentityProvider(
        store if store is not None else InMemoryItemStore(),
        tmp_path / "dev-idp-key.pem",
        ISSUER,
        CLIENT_ID,
        hasher=ScryptHasher(n=2**8),
    )


def client_for(idp: DevIdentityProvider, profiles: Any = None) -> httpx.AsyncClient:
    """``profiles``: the ItemStore holding profiles (by default a fresh one)."""
    items = profiles if profiles is not None else InMemoryItemStore()
    services = build_services(
        load_settings(), items, InMemoryBlobStore(max_expiry=3600), b"k" * 32, identity=idp
    )
    verifier = JwtVerifier(
        issuer=ISSUER, client_ids=frozenset({CLIENT_ID}), jwks_source=StaticJwksSource(idp.jwks())
    )
    app = Starlette(routes=[Mount("/auth", routes=auth_routes(idp, services, verifier))])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
def idp(tmp_path: Path) -> DevIdentityProvider:
    return build_idp(tmp_path)


@pytest.fixture
async def client(idp: DevIdentityProvider) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(idp) as client:
        yield client


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["requestId"]
    assert "Traceback" not in response.text
    return error


async def signup(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/auth/signup", json={"password": PASSWORD, **body})


async def test_signup_then_token_gives_tokens_the_verifier_accepts(
    client: httpx.AsyncClient, idp: DevIdentityProvider
) -> None:
    created = await signup(client, username="Alice", email="alice@example.com")
    assert created.status_code == 201
    user = created.json()
    assert user["username"] == "Alice"
    assert set(user) == {"username", "userId"}

    response = await client.post("/auth/token", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["tokenType"] == "Bearer"
    assert body["expiresIn"] == 3600

    jwks = (await client.get("/auth/.well-known/jwks.json")).json()
    verifier = JwtVerifier(
        issuer=ISSUER, client_ids=[CLIENT_ID], jwks_source=StaticJwksSource(jwks)
    )
    principal = await verifier.verify(body["idToken"])
    assert (principal.user_id, principal.username, principal.email) == (
        user["userId"],
        "Alice",
        "alice@example.com",
    )
    access = await verifier.verify(body["accessToken"])
    assert (access.user_id, access.token_use) == (user["userId"], "access")


async def test_duplicate_username_is_409(client: httpx.AsyncClient) -> None:
    assert (await signup(client, username="bob")).status_code == 201
    error = assert_error(await signup(client, username="BOB"), 409, "CONFLICT")
    assert error["message"] == "Username already exists"


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"username": "carol", "password": "short"}, "Password must be 8"),
        ({"username": "c", "password": PASSWORD}, "Username must be 3"),
        ({"username": "carol", "password": PASSWORD, "email": "nope"}, "Email"),
        ({"username": 123, "password": PASSWORD}, "Field 'username' must be a string"),
        ({"username": "carol", "password": ["x"] * 9}, "Field 'password' must be a string"),
        ({"username": "carol"}, "Field 'password' is required"),
        ({"username": "carol", "password": PASSWORD, "email": 5}, "Field 'email'"),
    ],
)
async def test_bad_signup_input_is_400_with_a_clear_message(
    client: httpx.AsyncClient, body: dict[str, Any], mentions: str
) -> None:
    error = assert_error(await client.post("/auth/signup", json=body), 400, "BAD_USER_INPUT")
    assert mentions in error["message"]


@pytest.mark.parametrize("path", ["/auth/signup", "/auth/token"])
@pytest.mark.parametrize(
    ("content", "mentions"),
    [
        (b"{not json", "valid JSON"),
        (b"", "valid JSON"),
        (b"\xff\xfe", "valid JSON"),
        (b'["alice", "password"]', "JSON object"),
        (b'"alice"', "JSON object"),
        (b"[" * 100_000, "exceeds"),  # too deep to parse, and too big anyway
    ],
)
async def test_malformed_bodies_are_refused(
    client: httpx.AsyncClient, path: str, content: bytes, mentions: str
) -> None:
    response = await client.post(path, content=content)
    status = 413 if mentions == "exceeds" else 400
    error = assert_error(response, status, "BAD_USER_INPUT")
    assert mentions in error["message"]


async def test_deeply_nested_json_within_size_limit_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/token", content=b"[" * 15_000)
    assert_error(response, 400, "BAD_USER_INPUT")


async def test_wrong_password_and_unknown_user_are_the_same_401(
    client: httpx.AsyncClient,
) -> None:
    await signup(client, username="dave")
    responses = [
        await client.post("/auth/token", json={"username": "dave", "password": "wrong pass"}),
        await client.post("/auth/token", json={"username": "nobody", "password": PASSWORD}),
    ]
    messages = set()
    for response in responses:
        error = assert_error(response, 401, "UNAUTHENTICATED")
        assert response.headers["www-authenticate"] == "Bearer"
        messages.add(error["message"])
    assert messages == {"Incorrect username or password"}


async def test_passwords_are_never_echoed(client: httpx.AsyncClient) -> None:
    secret = "hunter2-secret"
    for response in [
        await client.post("/auth/signup", json={"username": "x!", "password": secret}),
        await client.post("/auth/signup", json={"username": "erin", "password": [secret]}),
        await client.post("/auth/token", json={"username": "erin", "password": secret}),
    ]:
        assert response.status_code >= 400
        assert secret not in response.text


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    body = {"username": "frank", "password": "x" * 20_000}
    assert_error(await client.post("/auth/signup", json=body), 413, "BAD_USER_INPUT")


async def test_oversized_chunked_body_without_length_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"username": "frank", "password": "'
        for _ in range(20):
            yield b"x" * 1024
        yield b'"}'

    response = await client.post("/auth/signup", content=chunks())
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "BAD_USER_INPUT")


async def test_jwks_is_public_cacheable_and_matches_token_kid(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/auth/.well-known/jwks.json")
    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    (jwk,) = response.json()["keys"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RS256"

    await signup(client, username="gina")
    tokens = await client.post("/auth/token", json={"username": "gina", "password": PASSWORD})
    assert unverified_header(tokens.json()["idToken"])["kid"] == jwk["kid"]


async def test_wrong_methods_are_refused(client: httpx.AsyncClient) -> None:
    assert (await client.get("/auth/signup")).status_code == 405
    assert (await client.get("/auth/token")).status_code == 405
    assert (await client.post("/auth/.well-known/jwks.json")).status_code == 405


class _BrokenStore(InMemoryItemStore):
    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        raise RuntimeError("disk on fire at /secret/path")

    async def write(self, ops: Sequence[WriteOp]) -> None:
        raise RuntimeError("disk on fire at /secret/path")


async def test_unexpected_failures_are_a_masked_500(tmp_path: Path) -> None:
    async with client_for(build_idp(tmp_path, _BrokenStore())) as client:
        for response in [
            await signup(client, username="hank"),
            await client.post("/auth/token", json={"username": "hank", "password": PASSWORD}),
        ]:
            error = assert_error(response, 500, "INTERNAL_SERVER_ERROR")
            assert error["message"] == "Internal server error"
            assert "fire" not in response.text
