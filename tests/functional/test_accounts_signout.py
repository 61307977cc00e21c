"""Sign out everywhere takes effect on the very next request, in every process: the mark
lives on the user's profile, which every authenticated request already reads."""

import asyncio
from pathlib import Path

import pytest

from tests.support.accounts import AccountsApp, bearer, error_codes, open_accounts_app
from tests.support.rest import Rest

ME = "query Me { me { username } }"
MY_FILES = "query Mine { myFiles(first: 5) { edges { node { owner { username } } } } }"
SIGN_OUT = "mutation { signOutEverywhere }"


async def next_second() -> None:
    # Token times are whole seconds and a sign-in in the sign-out's own second is void.
    await asyncio.sleep(1.05)


async def assert_refused_everywhere(app: AccountsApp, token: str) -> None:
    assert error_codes(await app.graphql(token, ME)) == ["UNAUTHENTICATED"]
    response = await app.http.get("/rest/me", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_auth_signout_voids_every_token_and_refresh_token_at_once(tmp_path: Path) -> None:
    async with open_accounts_app(tmp_path) as app:
        await app.signup("alice")
        laptop, phone = await app.sign_in("alice"), await app.sign_in("alice")
        assert (await app.graphql(phone["accessToken"], ME))["data"] == {
            "me": {"username": "alice"}
        }

        response = await app.http.post("/auth/signout", headers=bearer(laptop["idToken"]))
        assert response.status_code == 204, response.text

        for token in (laptop["idToken"], phone["idToken"], phone["accessToken"]):
            await assert_refused_everywhere(app, token)
        for refresh_token in (laptop["refreshToken"], phone["refreshToken"]):
            refused = await app.refresh(refresh_token)
            assert refused.status_code == 401
        # A voided token cannot sign out (or do anything) again.
        again = await app.http.post("/auth/signout", headers=bearer(laptop["idToken"]))
        assert again.status_code == 401

        await next_second()
        fresh = await app.sign_in("alice")
        assert (await app.graphql(fresh["idToken"], ME))["data"] == {"me": {"username": "alice"}}


async def test_sign_out_everywhere_mutation_leaves_other_users_signed_in(tmp_path: Path) -> None:
    async with open_accounts_app(tmp_path) as app:
        await app.signup("alice")
        await app.signup("bob")
        alice, bob = await app.sign_in("alice"), await app.sign_in("bob")

        answer = await app.graphql(alice["accessToken"], SIGN_OUT)
        assert answer["data"] == {"signOutEverywhere": True} and "errors" not in answer

        await assert_refused_everywhere(app, alice["idToken"])
        assert (await app.refresh(alice["refreshToken"])).status_code == 401
        assert (await app.graphql(bob["idToken"], ME))["data"] == {"me": {"username": "bob"}}
        assert (await app.refresh(bob["refreshToken"])).status_code == 200


async def test_signout_without_a_token_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    async with open_accounts_app(tmp_path) as app:
        await app.signup("alice")
        alice = await app.sign_in("alice")
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            response = await app.http.post("/auth/signout", headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "UNAUTHENTICATED"
        assert error_codes(await app.graphql(None, SIGN_OUT)) == ["UNAUTHENTICATED"]
        assert (await app.graphql(alice["idToken"], ME))["data"] == {"me": {"username": "alice"}}


@pytest.mark.parametrize(("query", "calls"), [(ME, 1), (MY_FILES, 3)], ids=["me", "myFiles"])
async def test_the_check_costs_no_extra_store_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], query: str, calls: int
) -> None:
    """What these cost without the mark: `me` one profile read, `myFiles` with its owners
    one query of the listing items, one batched read of their metas and one owner read.
    The read that checks the mark is the profile read, primed into the request's user
    loader, so both cost the same with it."""
    async with open_accounts_app(tmp_path, capsys) as app:
        await app.signup("alice")
        token = (await app.sign_in("alice"))["idToken"]
        await Rest(app.http, app.deps).upload(bearer(token))
        await app.graphql(token, query)  # warm: the profile exists and is in sync
        answer = await app.graphql(token, query)
        assert "errors" not in answer
        line = app.request_line(answer["x-request-id"])
        assert (line["item_calls"], line["blob_calls"]) == (calls, 0)
