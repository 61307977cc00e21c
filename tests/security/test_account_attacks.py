"""Attacks on the account flows, through the whole app: tokens of a signed-out session
(however fresh their iat), stolen and replayed refresh tokens, forged ones, and tokens of
a deleted account. Each is refused on GraphQL and REST and changes nothing."""

import json
import secrets
import time
from pathlib import Path
from typing import Any

from jose import jwt

from tests.support.accounts import AccountsApp, bearer, error_codes, open_accounts_app

ME = "{ me { username } }"


def remint(app: AccountsApp, token: str, **changes: Any) -> str:
    """``token`` re-signed with the server's own key, claims changed (None removes one):
    what a refreshed token of the same session looks like, or a token the attacker
    could only get from the identity provider itself."""
    claims = jwt.get_unverified_claims(token)
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    pem = (app.deps.settings.data_dir / "dev-idp-key.pem").read_text(encoding="ascii")
    kid = jwt.get_unverified_header(token)["kid"]
    return str(jwt.encode(claims, pem, algorithm="RS256", headers={"kid": kid}))


async def refused(app: AccountsApp, token: str) -> None:
    assert error_codes(await app.graphql(token, ME)) == ["UNAUTHENTICATED"]
    response = await app.http.get("/rest/me", headers=bearer(token))
    assert response.status_code == 401 and "Traceback" not in response.text


async def store_items(app: AccountsApp) -> str:
    return json.dumps(
        [item async for page in app.deps.items.scan() for item in page], sort_keys=True
    )


async def test_a_signed_out_session_stays_out_whatever_its_iat(tmp_path: Path) -> None:
    async with open_accounts_app(tmp_path / "data") as app:
        await app.signup("mallory")
        tokens = await app.sign_in("mallory")
        signed_out = await app.graphql(tokens["idToken"], "mutation { signOutEverywhere }")
        assert signed_out["data"] == {"signOutEverywhere": True}

        later = int(time.time()) + 5
        for token in (
            tokens["idToken"],
            tokens["accessToken"],
            # A refresh of the old session: new iat, the sign-in's auth_time.
            remint(app, tokens["idToken"], iat=later),
            # No time to judge the session by: refused once a sign-out exists.
            remint(app, tokens["idToken"], iat=None, auth_time=None),
        ):
            await refused(app, token)


async def test_a_stolen_refresh_token_replayed_kills_the_family(tmp_path: Path) -> None:
    async with open_accounts_app(tmp_path / "data") as app:
        await app.signup("victim")
        victim = await app.sign_in("victim")
        stolen = victim["refreshToken"]

        attacker = await app.refresh(stolen)  # the thief uses it first
        assert attacker.status_code == 200
        replay = await app.refresh(stolen)  # the victim's app refreshes as usual
        assert replay.status_code == 401
        assert (await app.refresh(attacker.json()["refreshToken"])).status_code == 401
        # The ID token the thief got is still a valid JWT until it expires (that is what
        # signOutEverywhere is for); no refresh gets them another one.
        await app.graphql(attacker.json()["idToken"], "mutation { signOutEverywhere }")
        await refused(app, attacker.json()["idToken"])


async def test_forged_refresh_tokens_change_nothing(tmp_path: Path) -> None:
    async with open_accounts_app(tmp_path / "data") as app:
        await app.signup("alice")
        genuine = (await app.sign_in("alice"))["refreshToken"]
        async with open_accounts_app(tmp_path / "elsewhere") as other:
            await other.signup("alice")
            foreign = (await other.sign_in("alice"))["refreshToken"]
        before = await store_items(app)
        for forged in (
            foreign,  # a real token of another server
            secrets.token_urlsafe(32),
            genuine[:-1] + ("A" if genuine[-1] != "A" else "B"),
            genuine + "x",
            " " + genuine,
        ):
            response = await app.refresh(forged)
            assert response.status_code == 401, forged
            assert response.json()["error"]["message"] == "Refresh token is not valid"
        assert await store_items(app) == before
        assert (await app.refresh(genuine)).status_code == 200


async def test_a_deleted_accounts_tokens_are_refused_even_freshly_minted(
    tmp_path: Path,
) -> None:
    async with open_accounts_app(tmp_path / "data") as app:
        await app.signup("gone")
        tokens = await app.sign_in("gone")
        deleted = await app.graphql(
            tokens["idToken"], 'mutation { deleteAccount(confirm: "gone") }'
        )
        assert "errors" not in deleted, deleted
        later = int(time.time()) + 5
        for token in (
            tokens["idToken"],
            tokens["accessToken"],
            remint(app, tokens["idToken"], iat=later, auth_time=later),
        ):
            await refused(app, token)
        # ... and no profile was re-created by trying.
        items = [item async for page in app.deps.items.scan() for item in page]
        assert [item for item in items if item["sk"] == "PROFILE"] == []


async def test_sign_out_needs_a_valid_token_and_touches_no_one_else(tmp_path: Path) -> None:
    async with open_accounts_app(tmp_path / "data") as app:
        await app.signup("alice")
        alice = await app.sign_in("alice")
        tampered = remint(app, alice["idToken"], sub="someone-else")[:-4] + "AAAA"
        response = await app.http.post("/auth/signout", headers=bearer(tampered))
        assert response.status_code == 401
        assert (await app.graphql(alice["idToken"], ME))["data"] == {"me": {"username": "alice"}}
