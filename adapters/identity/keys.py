"""RSA keys for signing RS256 JWTs: a new private key as PEM, and a PEM loaded into a
signing key with its public JWK, whose ``kid`` is the RFC 7638 thumbprint."""

import base64
import hashlib
import json
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk
from jose.backends.base import Key as JoseKey

ALGORITHM = "RS256"
RSA_KEY_BITS = 2048


class RsaKeyError(ValueError):
    """The PEM is not an unencrypted RSA private key of at least RSA_KEY_BITS bits."""


@dataclass(frozen=True, slots=True)
class RsaSigningKey:
    kid: str
    key: JoseKey
    public_jwk: dict[str, str]


def new_private_key_pem() -> bytes:
    """A fresh RSA private key, unencrypted PKCS#8 PEM. Blocking (key generation)."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def signing_key_from_pem(pem: bytes) -> RsaSigningKey:
    """Raises RsaKeyError for anything but an unencrypted PEM RSA key, big enough."""
    try:
        private_key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        private_key = None
    if not isinstance(private_key, rsa.RSAPrivateKey) or private_key.key_size < RSA_KEY_BITS:
        raise RsaKeyError(f"not an unencrypted PEM RSA private key of at least {RSA_KEY_BITS} bits")
    numbers = private_key.public_key().public_numbers()
    public = {"kty": "RSA", "n": _b64_uint(numbers.n), "e": _b64_uint(numbers.e)}
    kid = _thumbprint(public)
    return RsaSigningKey(
        kid=kid,
        key=jwk.construct(private_key, ALGORITHM),  # type: ignore[arg-type]
        public_jwk={**public, "kid": kid, "use": "sig", "alg": ALGORITHM},
    )


def _thumbprint(public: dict[str, str]) -> str:
    """RFC 7638 JWK thumbprint: SHA-256 over the required members, sorted, no spaces."""
    canonical = json.dumps(
        {"e": public["e"], "kty": public["kty"], "n": public["n"]},
        separators=(",", ":"),
        sort_keys=True,
    )
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def _b64_uint(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
