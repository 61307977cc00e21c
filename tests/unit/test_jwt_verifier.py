"""JwtVerifier: what it accepts, everything it must refuse (always with the same message),
and how it fetches and caches keys."""

import asyncio
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from jose import jwk, jws

from adapters.identity.jwks_sources import HttpJwksSource, StaticJwksSource
from adapters.identity.jwt_verifier import JwtVerifier
from domain.errors import InvalidTokenError
from domain.models import Principal
from tests.support.clock import FakeClock
from tests.support.jwt_factory import (
    CLIENT_ID,
    ISSUER,
    OTHER_CLIENT_ID,
    TestKey,
    access_claims,
    b64url,
    b64url_json,
    id_claims,
    jwks,
    make_key,
    mint,
    mint_alg_none,
    mint_hs256_with_public_key,
    replace_claims,
)

NOW = 1_800_000_000.0
START = datetime.fromtimestamp(NOW, UTC)
MESSAGE = "Invalid or expired token"
KEY = make_key("kid-1", slot=0)
OTHER_KEY = make_key("kid-2", slot=1)


class CountingJwksSource:
    """A JWKS endpoint whose contents a test can rotate, counting fetches."""

    def __init__(self, *keys: TestKey, delay: float = 0.0) -> None:
        self.jwks: Any = jwks(*keys)
        self.fetches = 0
        self.delay = delay
        self.fail = False

    async def fetch(self) -> dict[str, Any]:
        self.fetches += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise InvalidTokenError
        return json.loads(json.dumps(self.jwks))  # type: ignore[no-any-return]


def make_verifier(source: Any = None, clock: FakeClock | None = None, **kwargs: Any) -> JwtVerifier:
    return JwtVerifier(
        issuer=ISSUER,
        client_ids=frozenset({CLIENT_ID}),
        jwks_source=source if source is not None else StaticJwksSource(jwks(KEY)),
        clock=(clock or FakeClock(START)).seconds,
        **kwargs,
    )


async def rejected(verifier: JwtVerifier, token: Any) -> str:
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(token)
    return str(caught.value)


# --- accepted ------------------------------------------------------------------------


async def test_valid_id_token_gives_principal() -> None:
    principal = await make_verifier().verify(mint(id_claims(NOW), KEY))
    assert principal == Principal(
        user_id="8d2f5f0e-0000-4000-8000-000000000001",
        username="alice",
        email="alice@example.com",
        groups=("admin",),
        token_use="id",
        auth_time=int(id_claims(NOW)["auth_time"]),
    )
    assert principal.is_admin


async def test_session_start_is_auth_time_kept_across_refreshes_else_iat() -> None:
    refreshed = id_claims(NOW) | {"auth_time": int(NOW) - 500}
    assert (await make_verifier().verify(mint(refreshed, KEY))).auth_time == int(NOW) - 500
    without = {name: value for name, value in id_claims(NOW).items() if name != "auth_time"}
    assert (await make_verifier().verify(mint(without, KEY))).auth_time == int(without["iat"])


async def test_valid_access_token_gives_principal_without_email() -> None:
    token = mint(access_claims(NOW, username="bob", email="bob@example.com"), KEY)
    principal = await make_verifier().verify(token)
    assert principal.username == "bob"
    assert principal.email is None  # access tokens do not carry a trustworthy email
    assert principal.groups == ("admin",)
    assert principal.token_use == "access"


async def test_id_token_audience_may_be_a_list_holding_the_client() -> None:
    token = mint(id_claims(NOW, aud=[OTHER_CLIENT_ID, CLIENT_ID]), KEY)
    assert (await make_verifier().verify(token)).username == "alice"


async def test_any_configured_client_id_is_accepted() -> None:
    verifier = JwtVerifier(
        issuer=ISSUER,
        client_ids=[CLIENT_ID, OTHER_CLIENT_ID],
        jwks_source=StaticJwksSource(jwks(KEY)),
        clock=FakeClock(START).seconds,
    )
    assert await verifier.verify(mint(id_claims(NOW, aud=OTHER_CLIENT_ID), KEY))
    assert await verifier.verify(mint(access_claims(NOW, client_id=OTHER_CLIENT_ID), KEY))


async def test_username_falls_back_to_sub_and_odd_groups_become_empty() -> None:
    claims = id_claims(NOW, cognito_username=None, cognito_groups="admin", email=None)
    principal = await make_verifier().verify(mint(claims, KEY))
    assert principal.username == principal.user_id
    assert principal.groups == ()
    assert not principal.is_admin
    assert principal.email is None

    mixed = id_claims(NOW, cognito_groups=["admin", 7])
    assert (await make_verifier().verify(mint(mixed, KEY))).groups == ()


@pytest.mark.parametrize(
    "claims",
    [
        id_claims(NOW, exp=NOW - 30),  # expired 30 s ago, inside the 60 s leeway
        id_claims(NOW, nbf=NOW + 30),
        id_claims(NOW, iat=NOW + 30),
        id_claims(NOW, exp=NOW + 0.5, nbf=NOW - 0.5, iat=NOW - 0.5),  # fractional dates
    ],
    ids=["exp-within-leeway", "nbf-within-leeway", "iat-within-leeway", "fractional"],
)
async def test_clock_skew_within_leeway_is_accepted(claims: dict[str, Any]) -> None:
    assert (await make_verifier().verify(mint(claims, KEY))).username == "alice"


async def test_leeway_is_configurable() -> None:
    token = mint(id_claims(NOW, exp=NOW - 30), KEY)
    assert (await rejected(make_verifier(leeway_seconds=10), token)) == MESSAGE


# --- refused -------------------------------------------------------------------------


def _huge_number_header_token() -> str:
    # Python refuses to parse integers of more than 4300 digits (a ValueError).
    header = b'{"alg":"RS256","kid":1' + b"0" * 5000 + b"}"
    return f"{b64url(header)}.e30.c2ln"


def _big_token() -> str:
    return mint(id_claims(NOW, padding="x" * 9000), KEY)


REFUSED: dict[str, Callable[[], Any]] = {
    "alg-none": lambda: mint_alg_none(id_claims(NOW), kid=KEY.kid),
    "alg-none-with-signature": lambda: mint_alg_none(id_claims(NOW), kid=KEY.kid) + "c2ln",
    "hs256-with-public-key": lambda: mint_hs256_with_public_key(id_claims(NOW), KEY),
    "header-says-rs512": lambda: mint(id_claims(NOW), KEY, header={"alg": "RS512", "kid": KEY.kid}),
    "no-kid": lambda: mint(id_claims(NOW), KEY, header={"alg": "RS256", "typ": "JWT"}),
    "kid-not-a-string": lambda: mint(id_claims(NOW), KEY, header={"alg": "RS256", "kid": 1}),
    "crit-header": lambda: mint(
        id_claims(NOW), KEY, header={"alg": "RS256", "kid": KEY.kid, "crit": ["exp"]}
    ),
    "unknown-kid": lambda: mint(id_claims(NOW), OTHER_KEY),
    "known-kid-signed-by-other-key": lambda: mint(id_claims(NOW), OTHER_KEY, kid=KEY.kid),
    "tampered-payload": lambda: replace_claims(
        mint(id_claims(NOW, cognito_groups=None), KEY), id_claims(NOW)
    ),
    "signature-stripped": lambda: mint(id_claims(NOW), KEY).rsplit(".", 1)[0] + ".",
    "expired": lambda: mint(id_claims(NOW, exp=NOW - 61), KEY),
    "expired-long-ago": lambda: mint(id_claims(NOW, iat=NOW - 7200, exp=NOW - 3600), KEY),
    "nbf-in-future": lambda: mint(id_claims(NOW, nbf=NOW + 3600), KEY),
    "iat-far-in-future": lambda: mint(id_claims(NOW, iat=NOW + 3600, exp=NOW + 7200), KEY),
    "missing-exp": lambda: mint(id_claims(NOW, exp=None), KEY),
    "exp-as-string": lambda: mint(id_claims(NOW, exp=str(int(NOW + 3600))), KEY),
    "exp-as-bool": lambda: mint(id_claims(NOW, exp=True), KEY),
    "nbf-as-string": lambda: mint(id_claims(NOW, nbf="soon"), KEY),
    "wrong-iss": lambda: mint(id_claims(NOW, iss="https://evil.example.com"), KEY),
    "iss-trailing-slash": lambda: mint(id_claims(NOW, iss=ISSUER + "/"), KEY),
    "missing-iss": lambda: mint(id_claims(NOW, iss=None), KEY),
    "id-wrong-aud": lambda: mint(id_claims(NOW, aud=OTHER_CLIENT_ID), KEY),
    "id-aud-list-without-client": lambda: mint(id_claims(NOW, aud=[OTHER_CLIENT_ID]), KEY),
    "id-missing-aud": lambda: mint(id_claims(NOW, aud=None), KEY),
    "id-token-use-with-only-client-id": lambda: mint(access_claims(NOW, token_use="id"), KEY),
    "access-wrong-client-id": lambda: mint(access_claims(NOW, client_id=OTHER_CLIENT_ID), KEY),
    "access-missing-client-id": lambda: mint(access_claims(NOW, client_id=None), KEY),
    # An ID token relabelled as an access token: aud is right, but there is no client_id.
    "id-claims-as-access-token": lambda: mint(id_claims(NOW, token_use="access"), KEY),
    "token-use-missing": lambda: mint(id_claims(NOW, token_use=None), KEY),
    "token-use-refresh": lambda: mint(id_claims(NOW, token_use="refresh"), KEY),
    "missing-sub": lambda: mint(id_claims(NOW, sub=None), KEY),
    "empty-sub": lambda: mint(id_claims(NOW, sub=""), KEY),
    "sub-not-a-string": lambda: mint(id_claims(NOW, sub=42), KEY),
    "username-not-a-string": lambda: mint(id_claims(NOW, cognito_username=["alice"]), KEY),
    "claims-are-a-list": lambda: mint([id_claims(NOW)], KEY),
    "claims-are-a-string": lambda: mint("alice", KEY),
    "header-is-a-list": lambda: (
        f"{b64url_json(['RS256'])}.{b64url_json(id_claims(NOW))}.{b64url(b'sig')}"
    ),
    "over-8-kib": _big_token,
    "empty": lambda: "",
    "one-segment": lambda: "abc",
    "two-segments": lambda: "abc.def",
    "four-segments": lambda: mint(id_claims(NOW), KEY) + ".abc",
    "bad-base64-chars": lambda: "ab!c.de$f.gh*i",
    "base64-padding": lambda: mint(id_claims(NOW), KEY) + "==",
    "not-json": lambda: f"{b64url(b'{not json')}.{b64url(b'{}')}.{b64url(b'x')}",
    "not-utf8": lambda: f"{b64url(bytes([0xFF, 0xFE]))}.{b64url(b'{}')}.{b64url(b'x')}",
    "bearer-prefix": lambda: "Bearer " + mint(id_claims(NOW), KEY),
    "surrounding-whitespace": lambda: " " + mint(id_claims(NOW), KEY) + "\n",
    "non-ascii": lambda: "é.é.é",
    "huge-number-in-header": lambda: _huge_number_header_token(),
    "none-instead-of-token": lambda: None,
    "bytes-instead-of-token": lambda: mint(id_claims(NOW), KEY).encode(),
}


@pytest.mark.parametrize("make_token", REFUSED.values(), ids=REFUSED.keys())
async def test_bad_tokens_are_refused_with_one_message(make_token: Callable[[], Any]) -> None:
    assert await rejected(make_verifier(), make_token()) == MESSAGE


async def test_token_just_under_the_size_limit_is_accepted() -> None:
    token = mint(id_claims(NOW, padding="x" * 5300), KEY)
    assert 7 * 1024 < len(token) <= 8 * 1024
    assert await make_verifier().verify(token)
    assert len(_big_token()) > 8 * 1024


# --- keys: selection, caching, refetching ---------------------------------------------


async def test_keys_are_fetched_once_and_cached() -> None:
    source = CountingJwksSource(KEY)
    verifier = make_verifier(source)
    for _ in range(5):
        await verifier.verify(mint(id_claims(NOW), KEY))
    assert source.fetches == 1


async def test_key_objects_are_built_once_per_kid(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    real_construct = jwk.construct

    def counting_construct(key_data: Any, algorithm: Any = None) -> Any:
        built.append(key_data["kid"])
        return real_construct(key_data, algorithm)

    monkeypatch.setattr(jwk, "construct", counting_construct)
    clock = FakeClock(START)
    source = CountingJwksSource(KEY)
    verifier = make_verifier(source, clock)
    await verifier.verify(mint(id_claims(NOW), KEY))
    source.jwks = jwks(KEY, OTHER_KEY)
    clock.advance(11)
    await verifier.verify(mint(id_claims(NOW), OTHER_KEY))
    await verifier.verify(mint(id_claims(NOW), KEY))
    assert source.fetches == 2
    assert built == ["kid-1", "kid-2"]  # kid-1 was not rebuilt by the refetch


async def test_rotated_key_is_accepted_after_one_refetch_and_refetches_are_rate_limited() -> None:
    clock = FakeClock(START)
    source = CountingJwksSource(KEY)
    verifier = make_verifier(source, clock)
    await verifier.verify(mint(id_claims(NOW), KEY))
    assert source.fetches == 1

    # The issuer rotates to a new key; the first token signed with it triggers a refetch.
    source.jwks = jwks(KEY, OTHER_KEY)
    clock.advance(11)
    principal = await verifier.verify(mint(id_claims(NOW), OTHER_KEY))
    assert principal.username == "alice"
    assert source.fetches == 2

    # Another unknown kid within 10 s of that refetch: refused without fetching again.
    stranger = make_key("kid-3", slot=2)
    clock.advance(5)
    assert await rejected(verifier, mint(id_claims(NOW), stranger)) == MESSAGE
    assert await rejected(verifier, mint(id_claims(NOW), stranger)) == MESSAGE
    assert source.fetches == 2

    # Once the interval has passed, an unknown kid may cause one more fetch.
    clock.advance(6)
    assert await rejected(verifier, mint(id_claims(NOW), stranger)) == MESSAGE
    assert source.fetches == 3


async def test_new_kid_within_refetch_interval_waits_for_the_interval() -> None:
    clock = FakeClock(START)
    source = CountingJwksSource(KEY)
    verifier = make_verifier(source, clock)
    await verifier.verify(mint(id_claims(NOW), KEY))
    source.jwks = jwks(KEY, OTHER_KEY)
    clock.advance(3)
    assert await rejected(verifier, mint(id_claims(NOW), OTHER_KEY)) == MESSAGE
    assert source.fetches == 1
    clock.advance(8)
    assert await verifier.verify(mint(id_claims(NOW), OTHER_KEY))
    assert source.fetches == 2


async def test_key_removed_from_jwks_stops_working_after_refetch() -> None:
    clock = FakeClock(START)
    source = CountingJwksSource(KEY)
    verifier = make_verifier(source, clock)
    old_token = mint(id_claims(NOW), KEY)
    await verifier.verify(old_token)
    source.jwks = jwks(OTHER_KEY)  # KEY revoked
    clock.advance(11)
    await verifier.verify(mint(id_claims(NOW), OTHER_KEY))
    assert await rejected(verifier, old_token) == MESSAGE


async def test_a_token_is_verified_once_then_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    checks: list[str] = []
    real_verify = jws.verify

    def counting_verify(token: Any, key: Any, algorithms: Any) -> Any:
        checks.append(token)
        return real_verify(token, key, algorithms=algorithms)

    monkeypatch.setattr(jws, "verify", counting_verify)
    verifier = make_verifier()
    token = mint(id_claims(NOW), KEY)
    first = await verifier.verify(token)
    assert await verifier.verify(token) == first
    assert len(checks) == 1
    # Any other string, even one differing only in its signature, is checked in full.
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    assert await rejected(verifier, forged) == MESSAGE
    assert len(checks) == 2


async def test_a_remembered_token_is_refused_once_it_expires() -> None:
    clock = FakeClock(START)
    verifier = make_verifier(clock=clock)
    token = mint(id_claims(NOW, exp=NOW + 100), KEY)
    assert await verifier.verify(token)
    clock.advance(100 + 59)  # within the 60 s leeway
    assert await verifier.verify(token)
    clock.advance(1)
    assert await rejected(verifier, token) == MESSAGE


async def test_a_remembered_token_is_refused_when_its_kid_gets_another_key() -> None:
    clock = FakeClock(START)
    source = CountingJwksSource(KEY)
    verifier = make_verifier(source, clock)
    old_token = mint(id_claims(NOW), KEY)
    await verifier.verify(old_token)
    # The issuer republishes kid-1 with another key (seen at the refetch a new kid causes):
    # tokens signed by the old one fail, remembered or not.
    replacement = make_key("kid-1", slot=2)
    source.jwks = jwks(replacement, OTHER_KEY)
    clock.advance(11)
    await verifier.verify(mint(id_claims(NOW), OTHER_KEY))
    assert source.fetches == 2
    assert await rejected(verifier, old_token) == MESSAGE
    assert await verifier.verify(mint(id_claims(NOW), replacement))


async def test_concurrent_unknown_kids_cause_one_fetch() -> None:
    source = CountingJwksSource(KEY, delay=0.02)
    verifier = make_verifier(source)
    good = mint(id_claims(NOW), KEY)
    unknown = mint(id_claims(NOW), OTHER_KEY)
    results = await asyncio.gather(
        *(verifier.verify(good if i % 2 else unknown) for i in range(40)),
        return_exceptions=True,
    )
    assert source.fetches == 1
    assert sum(isinstance(result, Principal) for result in results) == 20
    assert all(
        isinstance(result, InvalidTokenError) for i, result in enumerate(results) if i % 2 == 0
    )


async def test_failed_fetch_refuses_token_then_recovers() -> None:
    clock = FakeClock(START)
    source = CountingJwksSource(KEY)
    source.fail = True
    verifier = make_verifier(source, clock)
    token = mint(id_claims(NOW), KEY)
    assert await rejected(verifier, token) == MESSAGE
    assert await rejected(verifier, token) == MESSAGE
    assert source.fetches == 1  # a failing endpoint is not hammered either
    source.fail = False
    clock.advance(11)
    assert await verifier.verify(token)


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        {"keys": "nope"},
        {"keys": [{"kty": "RSA", "kid": "kid-1", "n": 5, "e": "AQAB"}]},
        {"keys": [{**KEY.public_jwk, "use": "enc"}]},
        {"keys": [{**KEY.public_jwk, "alg": "RS512"}]},
        {"keys": [{**KEY.public_jwk, "n": "!!!"}]},
        {"keys": [make_key("kid-1", slot=9, bits=1024).public_jwk]},
    ],
    ids=["null", "list", "keys-not-list", "n-not-string", "enc-key", "rs512", "bad-n", "weak"],
)
async def test_unusable_jwks_refuses_tokens_without_crashing(document: Any) -> None:
    source = CountingJwksSource()
    source.jwks = document
    weak = make_key("kid-1", slot=9, bits=1024)
    assert await rejected(make_verifier(source), mint(id_claims(NOW), KEY)) == MESSAGE
    assert await rejected(make_verifier(source), mint(id_claims(NOW), weak)) == MESSAGE


async def test_private_members_in_jwks_are_ignored() -> None:
    leaked = {**KEY.public_jwk, "d": "AQAB", "p": "AQAB", "q": "AQAB"}
    verifier = make_verifier(StaticJwksSource({"keys": [leaked]}))
    assert await verifier.verify(mint(id_claims(NOW), KEY))


def test_constructor_refuses_missing_issuer_or_client_ids() -> None:
    source = StaticJwksSource(jwks(KEY))
    with pytest.raises(ValueError):
        JwtVerifier(issuer="", client_ids=[CLIENT_ID], jwks_source=source)
    with pytest.raises(ValueError):
        JwtVerifier(issuer=ISSUER, client_ids=[], jwks_source=source)


# --- HttpJwksSource ------------------------------------------------------------------


class _JwksHandler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, bytes, dict[str, str]]] = {}

    def do_GET(self) -> None:
        status, body, headers = self.routes.get(self.path, (404, b"{}", {}))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def jwks_server() -> Iterator[str]:
    _JwksHandler.routes = {
        "/jwks.json": (200, json.dumps(jwks(KEY)).encode(), {}),
        "/huge.json": (200, b'{"keys": [' + b" " * 300_000 + b"]}", {}),
        "/html": (200, b"<html></html>", {}),
        "/redirect": (302, b"", {"Location": "/jwks.json"}),
        "/error": (500, b"{}", {}),
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _JwksHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_http_source_fetches_jwks_and_verifier_uses_it(jwks_server: str) -> None:
    source = HttpJwksSource(f"{jwks_server}/jwks.json", timeout=5)
    assert await source.fetch() == jwks(KEY)
    assert await make_verifier(source).verify(mint(id_claims(NOW), KEY))


@pytest.mark.parametrize("path", ["/huge.json", "/html", "/redirect", "/error", "/missing"])
async def test_http_source_failures_become_invalid_token(jwks_server: str, path: str) -> None:
    source = HttpJwksSource(f"{jwks_server}{path}", timeout=5)
    with pytest.raises(InvalidTokenError):
        await source.fetch()
    assert await rejected(make_verifier(source), mint(id_claims(NOW), KEY)) == MESSAGE


async def test_http_source_unreachable_host_becomes_invalid_token() -> None:
    # Port 9 (discard) on loopback: nothing listens, so the connection is refused at once.
    source = HttpJwksSource("http://127.0.0.1:9/jwks.json", timeout=2)
    assert await rejected(make_verifier(source), mint(id_claims(NOW), KEY)) == MESSAGE


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/jwks", "jwks.json"])
def test_http_source_refuses_non_http_urls(url: str) -> None:
    with pytest.raises(ValueError):
        HttpJwksSource(url, timeout=1)
