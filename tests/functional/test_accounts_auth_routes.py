"""/auth/token with a refresh token and /auth/password over HTTP: answers, status codes,
and that a refused request changes nothing."""

from pathlib import Path

from tests.support.accounts import PASSWORD, bearer, open_accounts_app

NEW_PASSWORD = "a much longer passphrase"
ME = "{ me { username } }"


async def test_refresh_over_http_rotates_and_is_never_cached(tmp_path: Path) -> None:
    async with open_accounts_app(tmp_path) as app:
        await app.signup("alice")
        first = await app.sign_in("alice")
        response = await app.refresh(first["refreshToken"])
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        second = response.json()
        assert set(second) == {"idToken", "accessToken", "refreshToken", "tokenType", "expiresIn"}
        assert second["refreshToken"] != first["refreshToken"]
        assert (await app.graphql(second["idToken"], ME))["data"] == {"me": {"username": "alice"}}

        replayed = await app.refresh(first["refreshToken"])
        assert replayed.status_code == 401
        assert replayed.json()["error"] == {
            "code": "UNAUTHENTICATED",
            "message": "Refresh token is not valid",
            "requestId": replayed.headers["x-request-id"],
        }
        assert (await app.refresh(second["refreshToken"])).status_code == 401


async def test_malformed_refresh_bodies_are_bad_input(tmp_path: Path) -> None:
    async with open_accounts_app(tmp_path) as app:
        for body in ({"refreshToken": 123}, {"refreshToken": None}):
            response = await app.http.post("/auth/token", json=body)
            assert response.status_code == 400, response.text
            assert response.json()["error"]["message"] == "Field 'refreshToken' must be a string"


async def test_password_change_over_http(tmp_path: Path) -> None:
    async with open_accounts_app(tmp_path) as app:
        await app.signup("alice")
        tokens = await app.sign_in("alice")

        def change(old: str, new: str) -> dict[str, str]:
            return {"username": "alice", "oldPassword": old, "newPassword": new}

        wrong = await app.http.post("/auth/password", json=change("wrong password", NEW_PASSWORD))
        assert wrong.status_code == 401
        weak = await app.http.post("/auth/password", json=change(PASSWORD, "   "))
        assert weak.status_code == 400
        missing = await app.http.post("/auth/password", json={"username": "alice"})
        assert missing.status_code == 400
        assert (await app.refresh(tokens["refreshToken"])).status_code == 200  # unchanged
        assert (await app.sign_in("alice"))["idToken"]

        done = await app.http.post("/auth/password", json=change(PASSWORD, NEW_PASSWORD))
        assert done.status_code == 204, done.text
        later = await app.sign_in("alice", NEW_PASSWORD)
        assert (await app.refresh(later["refreshToken"])).status_code == 200
        old = await app.http.post("/auth/token", json={"username": "alice", "password": PASSWORD})
        assert old.status_code == 401
        # Issued ID tokens stay valid until they expire; signing out everywhere ends them.
        assert (await app.graphql(tokens["idToken"], ME))["data"] == {"me": {"username": "alice"}}
        signed_out = await app.http.post("/auth/signout", headers=bearer(tokens["idToken"]))
        assert signed_out.status_code == 204
