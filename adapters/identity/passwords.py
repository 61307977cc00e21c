"""Password hashing for the development identity provider.

scrypt is memory-hard, so guessing stolen hashes on GPUs is expensive, and it ships with
Python's hashlib (no extra dependency). Hashes are self-describing strings,
``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``, so raising the cost later keeps every
stored hash verifiable with the parameters it was made with.
"""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

# n=2**14, r=8, p=1: the interactive-login parameters recommended by scrypt's author and
# by OWASP as the minimum; ~16 MiB of memory and tens of milliseconds of CPU per hash.
DEFAULT_N = 2**14
DEFAULT_R = 8
DEFAULT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32

_SCHEME = "scrypt"
# A stored hash comes from our own store, but a corrupted or hand-edited one must not be
# able to make one login allocate gigabytes.
_MAX_N = 2**20
_MAX_R = 32
_MAX_P = 16


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True, slots=True)
class _Params:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes


class ScryptHasher:
    """Hashes and checks passwords. Both calls burn CPU on purpose: run them in a worker
    thread (``asyncio.to_thread``), never on the event loop."""

    def __init__(self, n: int = DEFAULT_N, r: int = DEFAULT_R, p: int = DEFAULT_P) -> None:
        if n < 2 or n & (n - 1) or n > _MAX_N or not 1 <= r <= _MAX_R or not 1 <= p <= _MAX_P:
            raise ValueError("scrypt parameters out of range")
        self.n, self.r, self.p = n, r, p
        # Same cost as a real hash, so a login for a user who does not exist (or has no
        # usable password) takes as long as one with a wrong password.
        self._dummy = _Params(n, r, p, bytes(SALT_BYTES), bytes(HASH_BYTES))

    def hash(self, password: str) -> str:
        salt = secrets.token_bytes(SALT_BYTES)
        digest = _scrypt(password, _Params(self.n, self.r, self.p, salt, b""))
        return f"{_SCHEME}${self.n}${self.r}${self.p}${_b64(salt)}${_b64(digest)}"

    def verify(self, password: str, encoded: str | None) -> bool:
        """True when ``password`` matches ``encoded``. A missing or unusable ``encoded``
        costs the same work and returns False."""
        params = _parse(encoded) if encoded is not None else None
        if params is None:
            _scrypt(password, self._dummy)
            return False
        return hmac.compare_digest(_scrypt(password, params), params.digest)


def unusable_password() -> str:
    """A marker that no password ever matches (for users created without one)."""
    return f"!{secrets.token_hex(16)}"


def _scrypt(password: str, params: _Params) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=params.salt,
        n=params.n,
        r=params.r,
        p=params.p,
        # scrypt needs 128*n*r*p bytes; OpenSSL's default cap (32 MiB) would refuse
        # legitimately raised parameters.
        maxmem=128 * params.n * params.r * (params.p + 1) + 1024 * 1024,
        dklen=len(params.digest) or HASH_BYTES,
    )


def _parse(encoded: str) -> _Params | None:
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except ValueError:
        return None
    if n < 2 or n & (n - 1) or n > _MAX_N or not 1 <= r <= _MAX_R or not 1 <= p <= _MAX_P:
        return None
    if not salt or not 16 <= len(digest) <= 64:
        return None
    return _Params(n, r, p, salt, digest)
