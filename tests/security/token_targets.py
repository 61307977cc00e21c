"""The whole app in-process, in either auth mode, with a key the test can sign with.

- local: the development identity provider's own issuer, client id and signing key (the
  test writes the key file before start-up, so it knows the private key the app trusts);
- cognito: a Cognito-shaped issuer ``https://cognito-idp.<region>.amazonaws.com/<pool>``
  whose JWKS the app fetches over HTTP from a JwksServer on 127.0.0.1, through the same
  composition root production uses (``AWS_ENDPOINT_URL`` points it at the server).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
from cryptography.hazmat.primitives import serialization

from adapters.identity.jwks_sources import HttpJwksSource
from adapters.identity.jwt_verifier import JwtVerifier
from api.app import build_app
from api.bootstrap import DEV_IDP_KEY_FILE, Deps, build_deps
from api.settings import Settings, load_settings
from tests.security.jwks_server import JWKS_SUFFIX, JwksServer
from tests.support.jwt_factory import TestKey, access_claims, id_claims, jwks, make_key

Mode = Literal["local", "cognito"]
MODES: tuple[Mode, ...] = ("local", "cognito")

BASE_URL = "http://127.0.0.1:8000"
REGION = "eu-west-1"
COGNITO_CLIENT_ID = "attack-suite-client"
FOREIGN_CLIENT_ID = "someone-elses-app-client"
# Key slots of tests/support/jwt_factory (the unit tests use 0-9): distinct key material each.
LOCAL_SLOT = 40
COGNITO_SLOT = 41
ROTATED_SLOT = 42
ATTACKER_SLOT = 43


@dataclass
class Target:
    mode: Mode
    http: httpx.AsyncClient
    deps: Deps
    key: TestKey  # the key the app trusts
    issuer: str
    client_id: str
    foreign_issuer: str  # a plausible issuer the app must not trust (the other mode's)
    jwks_server: JwksServer | None
    pool_id: str | None

    def id_claims(self, **overrides: Any) -> dict[str, Any]:
        return id_claims(time.time(), **{"iss": self.issuer, "aud": self.client_id, **overrides})

    def access_claims(self, **overrides: Any) -> dict[str, Any]:
        merged = {"iss": self.issuer, "client_id": self.client_id, **overrides}
        return access_claims(time.time(), **merged)

    def jwks_fetches(self) -> int:
        assert self.jwks_server is not None and self.pool_id is not None, "cognito mode only"
        return self.jwks_server.fetches(self.pool_id)


def cognito_issuer_for(pool_id: str) -> str:
    # Written out rather than taken from api.bootstrap: the shape is the contract.
    return f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"


def write_private_key(path: Path, key: TestKey) -> None:
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(pem)


VerifierFactory = Callable[[Settings, str], JwtVerifier]


@contextlib.asynccontextmanager
async def open_target(
    mode: Mode,
    data_dir: Path,
    jwks_server: JwksServer,
    *,
    local_slot: int = LOCAL_SLOT,
    verifier: VerifierFactory | None = None,
) -> AsyncIterator[Target]:
    """``verifier``: builds the app's verifier from (settings, JWKS URL) instead of the
    composition root (cognito mode; for an injected clock)."""
    common: dict[str, Any] = {"data_dir": data_dir, "log_level": "DEBUG"}
    pool_id: str | None = None
    if mode == "local":
        # The dev IdP loads this file instead of generating a key: same code path, but the
        # test knows the private key and can forge claim-level attacks with a valid signature.
        write_private_key(data_dir / DEV_IDP_KEY_FILE, make_key(slot=local_slot))
        settings = load_settings(**common)
        deps = build_deps(settings)
        assert deps.dev_idp is not None
        key = make_key(deps.dev_idp.kid, slot=local_slot)
        assert deps.dev_idp.jwks() == jwks(key), "the dev IdP must sign with the test's key"
        issuer, client_id = settings.dev_issuer, settings.dev_client_id
        foreign_issuer = cognito_issuer_for(f"{REGION}_SomeonesPool")
    else:
        pool_id = f"{REGION}_{secrets.token_hex(5)}"
        key = make_key(f"cognito-{secrets.token_hex(4)}", slot=COGNITO_SLOT)
        jwks_server.publish(pool_id, jwks(key))
        settings = load_settings(
            **common,
            auth_mode="cognito",
            aws_region=REGION,
            cognito_user_pool_id=pool_id,
            cognito_client_ids=(COGNITO_CLIENT_ID,),
            aws_endpoint_url=jwks_server.url,
        )
        deps = build_deps(settings)
        issuer, client_id = cognito_issuer_for(pool_id), COGNITO_CLIENT_ID
        foreign_issuer = settings.dev_issuer
        if verifier is not None:
            url = f"{jwks_server.url}/{pool_id}{JWKS_SUFFIX}"
            deps = dataclasses.replace(deps, verifier=verifier(settings, url))
    app = build_app(settings, deps)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield Target(
                mode=mode,
                http=http,
                deps=deps,
                key=key,
                issuer=issuer,
                client_id=client_id,
                foreign_issuer=foreign_issuer,
                jwks_server=jwks_server if mode == "cognito" else None,
                pool_id=pool_id,
            )
    finally:
        await deps.aclose()


def http_verifier(clock: Callable[[], float]) -> VerifierFactory:
    """The composition root's cognito verifier, with ``clock`` instead of the wall clock."""

    def build(settings: Settings, url: str) -> JwtVerifier:
        return JwtVerifier(
            issuer=cognito_issuer_for(str(settings.cognito_user_pool_id)),
            client_ids=frozenset(settings.client_ids),
            jwks_source=HttpJwksSource(url, timeout=3.0),
            clock=clock,
        )

    return build
