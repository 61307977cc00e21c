"""JWT attack suite (token rules: docs/ARCHITECTURE.md "Authorization"), in both auth modes,
through the real app in-process: each forged, stale, misdirected or malformed bearer token sent
to ``{ me { id } }`` on /graphql and to GET /rest/me is refused as UNAUTHENTICATED — GraphQL
answers 200 with ``data: null``, REST 401 with ``WWW-Authenticate: Bearer`` — with one message
for every case in both modes, nothing about why, and the token never shows up in a response or
a log line. Valid tokens of each mode are the controls.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.errors import InvalidTokenError
from tests.security.jwks_server import JwksServer, running_jwks_server
from tests.security.token_targets import (
    ATTACKER_SLOT,
    FOREIGN_CLIENT_ID,
    MODES,
    ROTATED_SLOT,
    Target,
    http_verifier,
    open_target,
)
from tests.support.clock import FakeClock
from tests.support.jwt_factory import (
    TestKey,
    b64url,
    b64url_json,
    jwks,
    make_key,
    mint,
    mint_alg_none,
    mint_hs256_with_public_key,
    replace_claims,
)

ME = "{ me { id } }"
INVALID_TOKEN = str(InvalidTokenError())
# Words that would tell an attacker which check failed. The one shared message is removed
# from a body before this check: it is the same for every refusal, so it tells nothing.
WHY_WORDS = (
    "expired",
    "signature",
    "kid",
    "issuer",
    "iss",
    "audience",
    "aud",
    "alg",
    "client",
    "token_use",
    "nbf",
    "exp",
    "jwk",
    "jws",
    "jose",
    "traceback",
    "exception",
    "key",
)
# Loggers of the test's own HTTP client: they log the URL the test asked for.
CLIENT_LOGGERS = ("httpx", "httpcore")
MAX_TOKEN_BYTES = 8 * 1024


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[JwksServer]:
    with running_jwks_server() as server:
        yield server


@pytest.fixture(params=MODES)
async def target(
    request: pytest.FixtureRequest, tmp_path: Path, jwks_server: JwksServer
) -> AsyncIterator[Target]:
    async with open_target(request.param, tmp_path, jwks_server) as opened:
        yield opened


@pytest.fixture
async def cognito(tmp_path: Path, jwks_server: JwksServer) -> AsyncIterator[Target]:
    async with open_target("cognito", tmp_path, jwks_server) as opened:
        yield opened


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """Everything the app logged so far: its JSON lines on stdout (our package loggers
    do not propagate) and any record of another library, at DEBUG."""
    caplog.set_level(logging.DEBUG)

    def captured() -> str:
        out, err = capsys.readouterr()
        records = [
            f"{record.name} {record.getMessage()} {record.exc_text or ''}"
            for record in caplog.records
            if not record.name.startswith(CLIENT_LOGGERS)
        ]
        return "\n".join([out, err, *records])

    return captured


# --- sending and checking ---------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    graphql: httpx.Response
    rest: httpx.Response


async def ask(
    target: Target, authorization: str | bytes | None, params: dict[str, str] | None = None
) -> Answer:
    headers: list[tuple[bytes, bytes]] = []
    if authorization is not None:
        value = authorization if isinstance(authorization, bytes) else authorization.encode()
        headers.append((b"Authorization", value))
    graphql = await target.http.post("/graphql", json={"query": ME}, headers=headers, params=params)
    rest = await target.http.get("/rest/me", headers=headers, params=params)
    return Answer(graphql, rest)


def refusal_messages(answer: Answer) -> tuple[str, str]:
    """The (GraphQL, REST) messages of an UNAUTHENTICATED refusal, shaped as the contract
    says; fails on anything else."""
    graphql, rest = answer.graphql, answer.rest
    assert graphql.status_code == 200, graphql.text
    body = graphql.json()
    assert body["data"] is None, body
    assert len(body["errors"]) == 1, body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED", body
    assert rest.status_code == 401, rest.text
    assert rest.headers["www-authenticate"] == "Bearer"
    rest_error = rest.json()["error"]
    assert rest_error["code"] == "UNAUTHENTICATED", rest_error
    return error["message"], rest_error["message"]


def assert_refused_alike(answer: Answer) -> None:
    assert refusal_messages(answer) == (INVALID_TOKEN, INVALID_TOKEN)
    for response in (answer.graphql, answer.rest):
        text = response.text.replace(INVALID_TOKEN, "").lower()
        said = [word for word in WHY_WORDS if word in text]
        assert not said, (said, response.text)


def assert_accepted(answer: Answer) -> str:
    """The caller's user id, the same over GraphQL and REST."""
    assert answer.graphql.status_code == 200, answer.graphql.text
    body = answer.graphql.json()
    assert "errors" not in body, body
    user_id: str = body["data"]["me"]["id"]
    assert user_id
    assert answer.rest.status_code == 200, answer.rest.text
    assert answer.rest.json()["id"] == user_id
    return user_id


def secret_parts(authorization: str | bytes) -> list[str]:
    """The token and each of its segments, long enough that finding one in a log or a
    response can only mean it was copied there."""
    value = authorization.decode("latin-1") if isinstance(authorization, bytes) else authorization
    parts = [value]
    for word in value.split():
        parts.append(word)
        parts.extend(word.split("."))
    return [part for part in parts if len(part) >= 16]


def assert_not_leaked(authorization: str | bytes, answer: Answer, logged: str) -> None:
    places = {
        "graphql body": answer.graphql.text,
        "graphql headers": str(answer.graphql.headers),
        "rest body": answer.rest.text,
        "rest headers": str(answer.rest.headers),
        "logs": logged,
    }
    for part in secret_parts(authorization):
        leaked = [name for name, text in places.items() if part in text]
        assert not leaked, f"token material found in {leaked}"


def bearer(token: str) -> str:
    return f"Bearer {token}"


def attacker(kid: str | None = None) -> TestKey:
    return make_key(kid or f"attacker-{secrets.token_hex(4)}", slot=ATTACKER_SLOT)


def padded(claims: dict[str, Any], total: int) -> dict[str, Any]:
    """``claims`` with a filler claim making a token of about ``total`` characters."""
    return {**claims, "padding": "x" * (total * 3 // 4 - 600)}


# --- the cases ----------------------------------------------------------------------------

Make = Callable[[Target], str | bytes]


def _tampered_groups(t: Target) -> str:
    # A non-admin's token, payload swapped for one claiming the admin group.
    original = mint(t.id_claims(cognito_groups=None), t.key)
    return bearer(replace_claims(original, t.id_claims(cognito_groups=["admin"])))


def _tampered_sub(t: Target) -> str:
    original = mint(t.id_claims(), t.key)
    return bearer(replace_claims(original, t.id_claims(sub="someone-else")))


def _signature_from_other_token(t: Target) -> str:
    mine = mint(t.id_claims(sub="me"), t.key)
    other = mint(t.id_claims(sub="victim"), t.key)
    return bearer(other.rsplit(".", 1)[0] + "." + mine.rsplit(".", 1)[1])


def _oversized(t: Target) -> str:
    token = mint(padded(t.id_claims(), MAX_TOKEN_BYTES + 800), t.key)
    assert len(token) > MAX_TOKEN_BYTES
    return bearer(token)


def _segments(*parts: bytes) -> str:
    return bearer(".".join(b64url(part) for part in parts))


REFUSED: dict[str, Make] = {
    # algorithm confusion
    "alg-none": lambda t: bearer(mint_alg_none(t.id_claims(), kid=t.key.kid)),
    "alg-none-keeping-signature": lambda t: bearer(
        mint_alg_none(t.id_claims(), kid=t.key.kid) + mint(t.id_claims(), t.key).split(".")[2]
    ),
    "hs256-keyed-with-public-key": lambda t: bearer(
        mint_hs256_with_public_key(t.id_claims(), t.key)
    ),
    "rs512-header": lambda t: bearer(
        mint(t.id_claims(), t.key, header={"alg": "RS512", "kid": t.key.kid})
    ),
    # keys
    "unknown-kid": lambda t: bearer(mint(t.id_claims(), attacker())),
    "known-kid-attacker-key": lambda t: bearer(mint(t.id_claims(), attacker(t.key.kid))),
    "no-kid": lambda t: bearer(mint(t.id_claims(), t.key, header={"alg": "RS256"})),
    "kid-path-traversal": lambda t: bearer(mint(t.id_claims(), attacker("../../../../etc/passwd"))),
    "crit-header": lambda t: bearer(
        mint(t.id_claims(), t.key, header={"alg": "RS256", "kid": t.key.kid, "crit": ["exp"]})
    ),
    # signature
    "tampered-payload-groups": _tampered_groups,
    "tampered-payload-sub": _tampered_sub,
    "signature-of-another-token": _signature_from_other_token,
    "signature-stripped": lambda t: bearer(mint(t.id_claims(), t.key).rsplit(".", 1)[0] + "."),
    # time
    "expired": lambda t: bearer(
        mint(t.id_claims(iat=time.time() - 7200, exp=time.time() - 3600), t.key)
    ),
    "expired-beyond-leeway": lambda t: bearer(mint(t.id_claims(exp=time.time() - 90), t.key)),
    "nbf-in-future": lambda t: bearer(mint(t.id_claims(nbf=time.time() + 3600), t.key)),
    "nbf-beyond-leeway": lambda t: bearer(mint(t.id_claims(nbf=time.time() + 120), t.key)),
    "iat-in-future": lambda t: bearer(
        mint(t.id_claims(iat=time.time() + 3600, exp=time.time() + 7200), t.key)
    ),
    "missing-exp": lambda t: bearer(mint(t.id_claims(exp=None), t.key)),
    "access-missing-exp": lambda t: bearer(mint(t.access_claims(exp=None), t.key)),
    # issuer
    "wrong-issuer": lambda t: bearer(mint(t.id_claims(iss="https://evil.example.com"), t.key)),
    "issuer-of-other-mode": lambda t: bearer(mint(t.id_claims(iss=t.foreign_issuer), t.key)),
    "issuer-trailing-slash": lambda t: bearer(mint(t.id_claims(iss=t.issuer + "/"), t.key)),
    "missing-issuer": lambda t: bearer(mint(t.id_claims(iss=None), t.key)),
    # client id
    "id-token-foreign-aud": lambda t: bearer(mint(t.id_claims(aud=FOREIGN_CLIENT_ID), t.key)),
    "id-token-missing-aud": lambda t: bearer(mint(t.id_claims(aud=None), t.key)),
    "access-token-foreign-client-id": lambda t: bearer(
        mint(t.access_claims(client_id=FOREIGN_CLIENT_ID), t.key)
    ),
    "access-token-missing-client-id": lambda t: bearer(
        mint(t.access_claims(client_id=None), t.key)
    ),
    # ID / access confusion: each kind is checked against its own client claim only.
    "id-claims-labelled-access": lambda t: bearer(mint(t.id_claims(token_use="access"), t.key)),
    "access-claims-labelled-id": lambda t: bearer(mint(t.access_claims(token_use="id"), t.key)),
    "access-with-our-aud-foreign-client-id": lambda t: bearer(
        mint(t.access_claims(aud=t.client_id, client_id=FOREIGN_CLIENT_ID), t.key)
    ),
    "id-with-our-client-id-foreign-aud": lambda t: bearer(
        mint(t.id_claims(client_id=t.client_id, aud=FOREIGN_CLIENT_ID), t.key)
    ),
    "token-use-refresh": lambda t: bearer(mint(t.id_claims(token_use="refresh"), t.key)),
    "token-use-missing": lambda t: bearer(mint(t.id_claims(token_use=None), t.key)),
    # size
    "oversized-validly-signed": _oversized,
    "oversized-1-mib": lambda t: bearer("a" * (1024 * 1024)),
    # garbage
    "not-base64": lambda t: bearer("ab!c.de$f.gh*i"),
    "header-not-json": lambda t: _segments(b"{not json", b"{}", b"sig"),
    "header-not-utf8": lambda t: _segments(b"\xff\xfe", b"{}", b"sig"),
    "header-is-a-list": lambda t: bearer(
        f"{b64url_json(['RS256'])}.{b64url_json(t.id_claims())}.{b64url(b'sig')}"
    ),
    "claims-not-an-object": lambda t: bearer(mint([t.id_claims()], t.key)),
    "one-segment": lambda t: bearer("eyJhbGciOiJSUzI1NiJ9"),
    "two-segments": lambda t: bearer(".".join(mint(t.id_claims(), t.key).split(".")[:2])),
    "four-segments": lambda t: bearer(mint(t.id_claims(), t.key) + ".e30"),
    "trailing-junk": lambda t: bearer(mint(t.id_claims(), t.key) + " and more"),
    "padded-base64": lambda t: bearer(mint(t.id_claims(), t.key) + "=="),
    "non-ascii": lambda t: "Bearer é.é.é".encode(),
    "empty-bearer": lambda t: "Bearer    ",
    "bearer-without-token": lambda t: "Bearer",
    "wrong-scheme-with-valid-token": lambda t: f"Token {mint(t.id_claims(), t.key)}",
    "basic-credentials": lambda t: "Basic YWxpY2U6Y29ycmVjdCBob3JzZQ==",
    "bearer-twice": lambda t: bearer(bearer(mint(t.id_claims(), t.key))),
}

CONTROLS: dict[str, Make] = {
    "id-token": lambda t: bearer(mint(t.id_claims(), t.key)),
    "access-token": lambda t: bearer(mint(t.access_claims(), t.key)),
    # RFC 7235: the scheme name is case-insensitive.
    "lowercase-bearer": lambda t: f"bearer {mint(t.id_claims(), t.key)}",
    "just-under-size-limit": lambda t: bearer(
        mint(padded(t.id_claims(), MAX_TOKEN_BYTES - 400), t.key)
    ),
    "exp-within-leeway": lambda t: bearer(mint(t.id_claims(exp=time.time() - 20), t.key)),
}


# --- the table ------------------------------------------------------------------------


@pytest.mark.parametrize("make", CONTROLS.values(), ids=CONTROLS.keys())
async def test_valid_token_is_accepted(target: Target, make: Make) -> None:
    authorization = make(target)
    assert_accepted(await ask(target, authorization))


async def test_controls_are_what_they_claim(target: Target) -> None:
    # The padded controls and cases sit where the suite says they do.
    under = CONTROLS["just-under-size-limit"](target)
    over = REFUSED["oversized-validly-signed"](target)
    assert 7 * 1024 < len(under) - len("Bearer ") <= MAX_TOKEN_BYTES
    assert len(over) - len("Bearer ") > MAX_TOKEN_BYTES
    # An ID and an access token for the same subject are the same user.
    by_id = assert_accepted(await ask(target, CONTROLS["id-token"](target)))
    by_access = assert_accepted(await ask(target, CONTROLS["access-token"](target)))
    assert by_id == by_access


@pytest.mark.parametrize("make", REFUSED.values(), ids=REFUSED.keys())
async def test_attack_is_refused_alike(target: Target, make: Make, logs: Callable[[], str]) -> None:
    authorization = make(target)
    answer = await ask(target, authorization)
    assert_refused_alike(answer)
    assert_not_leaked(authorization, answer, logs())


async def test_every_refusal_in_both_modes_has_one_message(
    tmp_path: Path, jwks_server: JwksServer
) -> None:
    messages: set[str] = set()
    refused = 0
    for mode in MODES:
        async with open_target(mode, tmp_path / mode, jwks_server) as target:
            for make in REFUSED.values():
                messages.update(refusal_messages(await ask(target, make(target))))
                refused += 1
            # The same app accepts a good token: the refusals are not a broken setup.
            assert_accepted(await ask(target, CONTROLS["id-token"](target)))
    assert refused == 2 * len(REFUSED)
    assert messages == {INVALID_TOKEN}


async def test_tokens_from_the_dev_identity_provider_are_accepted(
    tmp_path: Path, jwks_server: JwksServer
) -> None:
    async with open_target("local", tmp_path, jwks_server) as target:
        assert target.deps.dev_idp is not None
        tokens = await target.deps.dev_idp.issue_tokens_for("alice")
        by_id = assert_accepted(await ask(target, bearer(tokens.id_token)))
        assert assert_accepted(await ask(target, bearer(tokens.access_token))) == by_id


@pytest.mark.parametrize("name", ["access_token", "id_token", "token", "authorization"])
async def test_token_in_a_query_parameter_is_ignored(
    target: Target, name: str, logs: Callable[[], str]
) -> None:
    token = mint(target.id_claims(), target.key)
    for value in (token, bearer(token)):
        answer = await ask(target, None, params={name: value})
        # Treated as no token at all: the anonymous refusal, not the bad-token one.
        graphql_message, rest_message = refusal_messages(answer)
        assert graphql_message == rest_message != INVALID_TOKEN
        over_get = await target.http.get("/graphql", params={"query": ME, name: value})
        assert over_get.status_code == 200
        assert over_get.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert_not_leaked(token, answer, logs() + over_get.text)


async def test_token_in_the_request_body_is_ignored(target: Target) -> None:
    token = mint(target.id_claims(), target.key)
    body = {"query": ME, "access_token": token, "extensions": {"authorization": bearer(token)}}
    response = await target.http.post("/graphql", json=body)
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert token not in response.text


# --- keys: fetching, rotation, rate limit (cognito: the JWKS comes over HTTP) ----------------


async def test_malformed_tokens_are_refused_before_any_key_fetch(cognito: Target) -> None:
    # Each carries a kid the app has never seen, which would trigger a JWKS fetch if the
    # token got as far as key lookup.
    stranger = attacker()
    claims = cognito.id_claims()
    before_lookup = [
        mint(padded(claims, MAX_TOKEN_BYTES + 800), stranger),
        mint_alg_none(claims, kid=stranger.kid),
        mint_hs256_with_public_key(claims, stranger),
        mint(claims, stranger, header={"alg": "RS512", "kid": stranger.kid}),
        mint(claims, stranger, header={"alg": "RS256", "kid": stranger.kid, "crit": ["exp"]}),
        mint(claims, stranger) + ".e30",
        mint(claims, stranger).replace(".", "!.", 1),
    ]
    for token in before_lookup:
        assert_refused_alike(await ask(cognito, bearer(token)))
    assert cognito.jwks_fetches() == 0
    # The same stranger in a well-formed token just under the size limit does get looked up.
    under = mint(padded(claims, MAX_TOKEN_BYTES - 400), stranger)
    assert len(under) <= MAX_TOKEN_BYTES
    assert_refused_alike(await ask(cognito, bearer(under)))
    assert cognito.jwks_fetches() == 1


async def test_burst_of_unknown_kids_fetches_the_jwks_once(cognito: Target) -> None:
    """The composition root's verifier on the wall clock: a burst (well within 10 s) of
    tokens with random kids, sent concurrently, costs the JWKS endpoint one fetch."""
    tokens = [mint(cognito.id_claims(), attacker()) for _ in range(25)]
    started = time.monotonic()
    answers = await asyncio.gather(*(ask(cognito, bearer(token)) for token in tokens))
    elapsed = time.monotonic() - started
    for answer in answers:
        assert_refused_alike(answer)
    assert elapsed < 10, "the burst must fit in one refetch interval for the bound to hold"
    assert cognito.jwks_fetches() == 1
    # The fetch did load the real keys: a valid token passes without another fetch.
    assert_accepted(await ask(cognito, CONTROLS["id-token"](cognito)))
    assert cognito.jwks_fetches() == 1


async def test_rotated_key_is_accepted_after_one_refresh_and_refreshes_are_rate_limited(
    tmp_path: Path, jwks_server: JwksServer
) -> None:
    clock = FakeClock()
    async with open_target(
        "cognito", tmp_path, jwks_server, verifier=http_verifier(clock.seconds)
    ) as target:
        assert target.pool_id is not None
        old_key = target.key
        new_key = make_key(f"rotated-{secrets.token_hex(4)}", slot=ROTATED_SLOT)
        old_token = bearer(mint(target.id_claims(), old_key))
        new_token = bearer(mint(target.id_claims(), new_key))

        assert_accepted(await ask(target, old_token))
        assert target.jwks_fetches() == 1

        # B before the JWKS publishes it: refused, even when a refresh is allowed.
        clock.advance(11)
        assert_refused_alike(await ask(target, new_token))
        assert target.jwks_fetches() == 2

        # The issuer publishes B, but the last refresh was under 10 s ago: still refused,
        # and the endpoint is not asked again.
        jwks_server.publish(target.pool_id, jwks(old_key, new_key))
        clock.advance(5)
        assert_refused_alike(await ask(target, new_token))
        assert target.jwks_fetches() == 2

        # Past the interval: ONE refresh, and B is in.
        clock.advance(6)
        assert_accepted(await ask(target, new_token))
        assert target.jwks_fetches() == 3
        assert_accepted(await ask(target, new_token))
        assert_accepted(await ask(target, old_token))
        assert target.jwks_fetches() == 3

        # A burst of random kids right after that refresh: no fetch at all; the same burst
        # once the interval has passed: exactly one.
        for expected in (3, 4):
            burst = [bearer(mint(target.id_claims(), attacker())) for _ in range(20)]
            answers = await asyncio.gather(*(ask(target, token) for token in burst))
            for answer in answers:
                assert_refused_alike(answer)
            assert target.jwks_fetches() == expected
            clock.advance(11)

        # A retired key stops working once a refresh no longer finds it.
        jwks_server.publish(target.pool_id, jwks(new_key))
        assert_refused_alike(await ask(target, bearer(mint(target.id_claims(), attacker()))))
        assert target.jwks_fetches() == 5
        assert_refused_alike(await ask(target, old_token))
        assert_accepted(await ask(target, new_token))


async def test_local_key_replaced_on_restart_retires_old_tokens(
    tmp_path: Path, jwks_server: JwksServer
) -> None:
    """Local mode has no JWKS endpoint to rotate: its keys change by replacing the dev
    IdP's key file and restarting. Tokens signed with the old key then stop working."""
    async with open_target("local", tmp_path, jwks_server) as before:
        old_token = bearer(mint(before.id_claims(), before.key))
        assert_accepted(await ask(before, old_token))
    async with open_target("local", tmp_path, jwks_server, local_slot=ROTATED_SLOT) as after:
        assert after.key.kid != before.key.kid
        assert_refused_alike(await ask(after, old_token))
        assert_accepted(await ask(after, bearer(mint(after.id_claims(), after.key))))
