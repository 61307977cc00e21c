"""Verifies Cognito-shaped JWTs (from Cognito or the development identity provider).

python-jose checks the RS256 signature; everything else is checked here, because jose
does not check ``kid``, ``token_use`` or ``client_id``, does not require ``exp``, reads
the wall clock (we need an injectable one), and lets an access token pass any audience.
Every failure raises the same InvalidTokenError so callers learn nothing about why.
"""

import asyncio
import base64
import binascii
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jose import jwk, jws
from jose.backends.base import Key
from jose.exceptions import JOSEError

from adapters.identity.jwks_sources import JwksSource
from domain.errors import InvalidTokenError
from domain.models import Principal

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
MAX_TOKEN_BYTES = 8 * 1024
# Bounds the work one JWKS response can cause; Cognito publishes two keys.
MAX_JWKS_KEYS = 32
MIN_RSA_BITS = 2048
# Tokens whose verification is remembered (a client sends the same token on every request
# until it expires): bounded, oldest out first.
VERIFIED_CACHE_SIZE = 4096

# Compact JWS: three base64url segments, no padding. Checked before any decoding so
# garbage never reaches a parser.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class JwtVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        client_ids: Iterable[str],
        jwks_source: JwksSource,
        leeway_seconds: int = 60,
        min_refetch_interval: float = 10.0,
        clock: Callable[[], float] = time.time,
        max_token_bytes: int = MAX_TOKEN_BYTES,
    ) -> None:
        if not issuer:
            raise ValueError("issuer must not be empty")
        self._issuer = issuer
        self._client_ids = frozenset(client_ids)
        if not self._client_ids or not all(self._client_ids):
            raise ValueError("at least one non-empty client id is required")
        if leeway_seconds < 0 or min_refetch_interval < 0:
            raise ValueError("leeway and refetch interval must not be negative")
        self._source = jwks_source
        self._leeway = leeway_seconds
        self._min_refetch_interval = min_refetch_interval
        self._clock = clock
        self._max_token_bytes = max_token_bytes
        # kid -> (the JWK it was built from, the built key). Building is the costly part,
        # so a refetch reuses a key whose JWK did not change.
        self._keys: dict[str, tuple[dict[str, Any], Key]] = {}
        self._last_fetch: float | None = None
        # One refetch at a time: a burst of tokens with a new kid must not stampede the
        # JWKS endpoint.
        self._fetch_lock = asyncio.Lock()
        # token -> (its principal, the key that verified it). The RSA check is most of a
        # verification; a hit re-checks only what can change: the clock against exp, and
        # that the key is still published (a dropped key voids its tokens at once).
        # Revocation (sign-out, deleted account) is checked per request on the profile,
        # never here, so it is unaffected.
        self._verified: dict[str, tuple[Principal, str, Key]] = {}

    async def verify(self, token: str) -> Principal:
        try:
            return await self._verify(token)
        except InvalidTokenError:
            raise
        except Exception as exc:
            # Fail closed on anything unforeseen. Log only the exception class: messages
            # from the decoding libraries may quote parts of the token.
            logger.warning("token rejected by unexpected error: %s", type(exc).__name__)
            raise InvalidTokenError from None

    async def _verify(self, token: str) -> Principal:
        if not isinstance(token, str) or len(token) > self._max_token_bytes:
            raise InvalidTokenError
        # Looked up before the shape regex: a remembered token passed it when it was
        # verified, and the regex over a ~1 KB token costs more than the whole lookup.
        remembered = self._remembered(token)
        if remembered is not None:
            return remembered
        if not _COMPACT_JWS.fullmatch(token):
            raise InvalidTokenError
        header = _decode_segment(token.split(".", 1)[0])
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str) or not kid:
            raise InvalidTokenError
        # "crit" names extensions the issuer insists we understand; we understand none.
        if "crit" in header:
            raise InvalidTokenError
        key = self._cached_key(kid)
        if key is None:
            key = await self._refetch_for(kid)
        if key is None:
            raise InvalidTokenError
        try:
            # The list pins the algorithm; the single pre-built key (selected by kid)
            # means jose never tries other keys.
            payload = jws.verify(token, key, algorithms=[ALGORITHM])
        except JOSEError:
            raise InvalidTokenError from None
        claims = _parse_json_object(payload)
        principal = self._principal(claims)
        self._remember(token, principal, kid, key)
        return principal

    def _remembered(self, token: str) -> Principal | None:
        entry = self._verified.get(token)
        if entry is None:
            return None
        principal, kid, key = entry
        expires_at = principal.expires_at
        if (
            expires_at is None
            or self._clock() >= expires_at + self._leeway
            or self._cached_key(kid) is not key
        ):
            del self._verified[token]
            return None
        return principal

    def _remember(self, token: str, principal: Principal, kid: str, key: Key) -> None:
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (principal, kid, key)

    def _cached_key(self, kid: str) -> Key | None:
        entry = self._keys.get(kid)
        return entry[1] if entry is not None else None

    async def _refetch_for(self, kid: str) -> Key | None:
        async with self._fetch_lock:
            # Whoever held the lock before us may already have fetched this kid.
            key = self._cached_key(kid)
            if key is not None:
                return key
            now = self._clock()
            if self._last_fetch is not None and now - self._last_fetch < self._min_refetch_interval:
                return None
            # Counted even if the fetch fails, so an unreachable endpoint is not hammered.
            self._last_fetch = now
            try:
                jwks = await self._source.fetch()
            except Exception as exc:
                logger.warning("JWKS fetch failed: %s", type(exc).__name__)
                return None
            self._keys = self._build_keys(jwks)
            return self._cached_key(kid)

    def _build_keys(self, jwks: object) -> dict[str, tuple[dict[str, Any], Key]]:
        """The verifying keys of a JWKS by kid. Keys that are not RS256 signing keys, or
        that cannot be built, are skipped; keys no longer published are dropped (that is
        how a revoked key stops working)."""
        raw_keys = jwks.get("keys") if isinstance(jwks, dict) else None
        if not isinstance(raw_keys, list):
            logger.warning("JWKS document has no key list; keeping the keys we had")
            return self._keys
        built: dict[str, tuple[dict[str, Any], Key]] = {}
        for raw in raw_keys[:MAX_JWKS_KEYS]:
            public = _public_rsa_jwk(raw)
            if public is None:
                continue
            kid = raw["kid"]
            previous = self._keys.get(kid)
            if previous is not None and previous[0] == public:
                built[kid] = previous
                continue
            try:
                built[kid] = (public, jwk.construct(public, ALGORITHM))
            except (JOSEError, ValueError, TypeError):
                logger.warning("JWKS key %s could not be built; skipped", kid)
        return built

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        if claims.get("iss") != self._issuer:
            raise InvalidTokenError
        expires_at = self._check_times(claims)
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise InvalidTokenError
        token_use = claims.get("token_use")
        if token_use == "id":  # noqa: S105 - a claim value, not a secret
            if not self._audience_ok(claims.get("aud")):
                raise InvalidTokenError
            username = claims.get("cognito:username", sub)
            email = claims.get("email")
        elif token_use == "access":  # noqa: S105 - a claim value, not a secret
            # Cognito access tokens carry the app client in client_id and have no aud.
            if claims.get("client_id") not in self._client_ids:
                raise InvalidTokenError
            username = claims.get("username", sub)
            email = None
        else:
            raise InvalidTokenError
        if not isinstance(username, str) or not username:
            raise InvalidTokenError
        return Principal(
            user_id=sub,
            username=username,
            email=email if isinstance(email, str) and email else None,
            groups=_groups(claims.get("cognito:groups")),
            token_use=token_use,
            expires_at=expires_at,
            auth_time=_session_start(claims),
        )

    def _audience_ok(self, aud: object) -> bool:
        # RFC 7519 allows one audience or a list; Cognito always sends one string.
        if isinstance(aud, str):
            return aud in self._client_ids
        if isinstance(aud, list) and aud and all(isinstance(item, str) for item in aud):
            return any(item in self._client_ids for item in aud)
        return False

    def _check_times(self, claims: Mapping[str, Any]) -> float:
        """Raises unless the token is valid now; answers its expiry."""
        now = self._clock()
        exp = _numeric_date(claims, "exp", required=True)
        nbf = _numeric_date(claims, "nbf", required=False)
        iat = _numeric_date(claims, "iat", required=False)
        if exp is None or now >= exp + self._leeway:
            raise InvalidTokenError
        if nbf is not None and now + self._leeway < nbf:
            raise InvalidTokenError
        # A token issued in the future means a forged token or a badly skewed issuer.
        if iat is not None and now + self._leeway < iat:
            raise InvalidTokenError
        return exp


def _decode_segment(segment: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise InvalidTokenError from None
    return _parse_json_object(raw)


def _parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidTokenError from None
    if not isinstance(value, dict):
        raise InvalidTokenError
    return value


def _numeric_date(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    if name not in claims:
        if required:
            raise InvalidTokenError
        return None
    value = claims[name]
    # bool is an int subclass; "exp": true is not a date.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTokenError
    if not math.isfinite(value):
        raise InvalidTokenError
    return float(value)


def _session_start(claims: Mapping[str, Any]) -> int | None:
    # auth_time survives refreshes, so a refreshed token still belongs to its sign-in.
    for name in ("auth_time", "iat"):
        value = claims.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return int(value)
    return None


def _groups(value: object) -> tuple[str, ...]:
    if isinstance(value, list) and all(isinstance(group, str) for group in value):
        return tuple(value)
    return ()


def _public_rsa_jwk(raw: object) -> dict[str, Any] | None:
    """Only the public members of an RS256 signature key, or None when it is not one.
    Dropping everything else means a JWKS that leaks private members still only ever
    yields public verification keys."""
    if not isinstance(raw, dict):
        return None
    kid, n, e = raw.get("kid"), raw.get("n"), raw.get("e")
    if raw.get("kty") != "RSA" or not isinstance(kid, str) or not kid:
        return None
    if raw.get("use", "sig") != "sig" or raw.get("alg", ALGORITHM) != ALGORITHM:
        return None
    if not isinstance(n, str) or not isinstance(e, str):
        return None
    try:
        modulus = base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(modulus.lstrip(b"\0")) * 8 < MIN_RSA_BITS:
        return None
    return {"kty": "RSA", "kid": kid, "n": n, "e": e}
