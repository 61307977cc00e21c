"""Mint real, wrong and forged JWTs for tests, with throwaway RSA keys.

Everything is built by hand (base64url + JSON + signature) so a test can produce tokens
no well-behaved library would: alg "none", HS256 keyed with the public key PEM, a header
without kid, claims that are not an object, a payload swapped under a valid signature.
"""

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool"
CLIENT_ID = "test-client-id"
OTHER_CLIENT_ID = "some-other-client"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@dataclass(frozen=True)
class TestKey:
    __test__ = False  # not a pytest test class

    kid: str
    private_key: rsa.RSAPrivateKey

    @property
    def public_jwk(self) -> dict[str, str]:
        numbers = self.private_key.public_key().public_numbers()

        def uint(value: int) -> str:
            return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": uint(numbers.n),
            "e": uint(numbers.e),
        }

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, signing_input: bytes) -> bytes:
        return self.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())


@cache
def _rsa_key(slot: int, bits: int) -> rsa.RSAPrivateKey:
    # Generation takes tens of milliseconds; tests share a few keys by slot.
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def make_key(kid: str = "test-kid-1", *, slot: int = 0, bits: int = 2048) -> TestKey:
    """A throwaway RSA key; the same ``slot`` gives the same key material."""
    return TestKey(kid=kid, private_key=_rsa_key(slot, bits))


def jwks(*keys: TestKey) -> dict[str, Any]:
    return {"keys": [key.public_jwk for key in keys]}


def id_claims(now: float | None = None, **overrides: Any) -> dict[str, Any]:
    """Claims shaped like a Cognito ID token; an override of None removes the claim."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": "8d2f5f0e-0000-4000-8000-000000000001",
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "token_use": "id",
        "cognito:username": "alice",
        "cognito:groups": ["admin"],
        "email": "alice@example.com",
        "auth_time": issued,
        "iat": issued,
        "exp": issued + 3600,
        "jti": str(uuid.uuid4()),
    }
    return _apply(claims, overrides)


def access_claims(now: float | None = None, **overrides: Any) -> dict[str, Any]:
    """Claims shaped like a Cognito access token (client_id, no aud)."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": "8d2f5f0e-0000-4000-8000-000000000001",
        "iss": ISSUER,
        "client_id": CLIENT_ID,
        "token_use": "access",
        "username": "alice",
        "cognito:groups": ["admin"],
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": issued,
        "iat": issued,
        "exp": issued + 3600,
        "jti": str(uuid.uuid4()),
    }
    return _apply(claims, overrides)


def _apply(claims: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for name, value in overrides.items():
        # Python names cannot hold ":"; cognito_groups / cognito_username stand in.
        name = name.replace("cognito_", "cognito:")
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def mint(
    claims: Any,
    key: TestKey,
    *,
    header: dict[str, Any] | None = None,
    kid: str | None = None,
) -> str:
    """An RS256 token signed by ``key``. ``header`` replaces the default header entirely;
    ``claims`` may be anything JSON (to test non-object payloads)."""
    head = header if header is not None else {"alg": "RS256", "kid": kid or key.kid, "typ": "JWT"}
    signing_input = f"{b64url_json(head)}.{b64url_json(claims)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode()))}"


def mint_alg_none(claims: dict[str, Any], kid: str = "test-kid-1") -> str:
    """The classic unsigned token: alg none and an empty signature."""
    head = {"alg": "none", "kid": kid, "typ": "JWT"}
    return f"{b64url_json(head)}.{b64url_json(claims)}."


def mint_hs256_with_public_key(claims: dict[str, Any], key: TestKey) -> str:
    """The key-confusion attack: HMAC-SHA256 keyed with the verifier's public key PEM."""
    head = {"alg": "HS256", "kid": key.kid, "typ": "JWT"}
    signing_input = f"{b64url_json(head)}.{b64url_json(claims)}"
    signature = hmac.new(key.public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def replace_claims(token: str, claims: dict[str, Any]) -> str:
    """Swap the payload and keep the original header and signature (a tampered token)."""
    header, _, signature = token.split(".")
    return f"{header}.{b64url_json(claims)}.{signature}"


def unverified_claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return claims


def unverified_header(token: str) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(b64url_decode(token.split(".")[0]))
    return header
