"""Where a JWT verifier gets its public keys: Cognito's JWKS URL, or a fixed set (the
development identity provider, tests)."""

import asyncio
import copy
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Protocol

from domain.errors import InvalidTokenError

logger = logging.getLogger(__name__)

# A real JWKS holds a handful of keys (~1 KiB each); anything far larger is not one.
MAX_JWKS_BYTES = 256 * 1024


class JwksSource(Protocol):
    async def fetch(self) -> dict[str, Any]:
        """The current key set, ``{"keys": [...]}``; raises a DomainError when it cannot
        be had (the verifier then treats every unknown ``kid`` as invalid)."""
        ...


class StaticJwksSource:
    """A key set known up front."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self._jwks = copy.deepcopy(jwks)

    async def fetch(self) -> dict[str, Any]:
        # A copy, so a caller mutating the result cannot change what later fetches see.
        return copy.deepcopy(self._jwks)


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    # A JWKS endpoint that redirects is misconfigured or hijacked; following it could
    # also switch to a scheme we never meant to speak.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class HttpJwksSource:
    """Fetches a JWKS over HTTP(S). urllib blocks, so each fetch runs in a worker thread."""

    def __init__(self, url: str, timeout: float = 5.0, max_bytes: int = MAX_JWKS_BYTES) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError(f"JWKS URL must be an http(s) URL, got {url!r}")
        if timeout <= 0:
            raise ValueError("JWKS fetch timeout must be positive")
        self.url = url
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._opener = urllib.request.build_opener(_RefuseRedirects())

    async def fetch(self) -> dict[str, Any]:
        try:
            return await asyncio.to_thread(self._fetch_blocking)
        except InvalidTokenError:
            raise
        except Exception as exc:
            # Only the class name: the URL is configuration, the details are noise, and
            # nothing about a caller's token is involved here.
            logger.warning("JWKS fetch from %s failed: %s", self.url, type(exc).__name__)
            raise InvalidTokenError from None

    def _fetch_blocking(self) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            self.url, headers={"Accept": "application/json"}
        )
        with self._opener.open(request, timeout=self._timeout) as response:
            if response.status != 200:
                raise ValueError(f"status {response.status}")
            body = response.read(self._max_bytes + 1)
        if len(body) > self._max_bytes:
            raise ValueError("JWKS response too large")
        jwks = json.loads(body)
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise ValueError("not a JWKS document")
        return jwks
