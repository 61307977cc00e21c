"""Deleting an account through the whole app (SQLite, blob folder, dev identity provider):
the user's tokens, refresh tokens and password stop working at once, the name is free
again; and `demobackend purge-accounts` finishes a deletion that was interrupted."""

import asyncio
import io
import json
import tarfile
from pathlib import Path

import pytest

from api.cli import main
from domain.ids import from_global_id, to_global_id
from domain.models import Principal
from tests.support.accounts import PASSWORD, AccountsApp, bearer, error_codes, open_accounts_app
from tests.support.rest import Rest

DELETE = "mutation($c: String!) { deleteAccount(confirm: $c) }"
ME = "{ me { username } }"
SHARED = "{ sharedWithMe(first: 10) { edges { node { name } } } }"
SHARE = "mutation($id: ID!, $u: String!) { shareFile(id: $id, username: $u) { id } }"


async def alice_shares_a_file_with_bob(app: AccountsApp) -> tuple[dict[str, str], str]:
    """(alice's tokens, bob's id token)."""
    await app.signup("alice")
    await app.signup("bob")
    alice, bob = await app.sign_in("alice"), await app.sign_in("bob")
    await app.graphql(bob["idToken"], ME)  # a profile exists from the first request
    file = await Rest(app.http, app.deps).upload(bearer(alice["idToken"]), name="plans.txt")
    shared = await app.graphql(alice["idToken"], SHARE, {"id": file["id"], "u": "bob"})
    assert "errors" not in shared, shared
    assert (await app.graphql(bob["idToken"], SHARED))["data"]["sharedWithMe"]["edges"]
    return alice, bob["idToken"]


async def test_a_deleted_users_credentials_all_stop_working(tmp_path: Path) -> None:
    async with open_accounts_app(tmp_path / "data") as app:
        alice, bob = await alice_shares_a_file_with_bob(app)

        answer = await app.graphql(alice["accessToken"], DELETE, {"c": "alice"})
        assert "errors" not in answer, answer

        for token in (alice["idToken"], alice["accessToken"]):
            assert error_codes(await app.graphql(token, ME)) == ["UNAUTHENTICATED"]
            assert (await app.http.get("/rest/me", headers=bearer(token))).status_code == 401
        assert (await app.refresh(alice["refreshToken"])).status_code == 401
        signin = {"username": "alice", "password": PASSWORD}
        assert (await app.http.post("/auth/token", json=signin)).status_code == 401
        assert (await app.graphql(bob, SHARED))["data"] == {"sharedWithMe": {"edges": []}}
        assert stored_bytes(tmp_path / "data") == []

        # The name is free for someone new, who is not the deleted user.
        new_id = await app.signup("alice")
        fresh = await app.sign_in("alice")
        assert (await app.graphql(fresh["idToken"], ME))["data"] == {"me": {"username": "alice"}}
        assert to_global_id("User", new_id) != answer["data"]["deleteAccount"]


async def test_export_over_http_downloads_a_tar_of_ones_files(tmp_path: Path) -> None:
    async with open_accounts_app(tmp_path / "data") as app:
        alice, _ = await alice_shares_a_file_with_bob(app)
        query = "mutation { exportMyData { id status url expiresAt } }"
        answer = (await app.graphql(alice["idToken"], query))["data"]["exportMyData"]
        assert answer["status"] == "READY"
        response = await app.http.get(answer["url"])  # the URL is the capability
        assert response.status_code == 200
        assert "attachment" in response.headers["content-disposition"]
        with tarfile.open(fileobj=io.BytesIO(response.content)) as tar:
            names = [member.name.rsplit("/", 1)[-1] for member in tar.getmembers()]
            manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        assert names == ["plans.txt", "manifest.json"]
        assert manifest["files"][0]["sharedWith"][0]["username"] == "bob"
        tampered = answer["url"].replace("signature=", "signature=A")
        assert tampered != answer["url"]
        assert (await app.http.get(tampered)).status_code in (400, 403, 404)


def test_purge_accounts_finishes_an_interrupted_deletion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"

    async def interrupted() -> str:
        async with open_accounts_app(data_dir) as app:
            alice, bob = await alice_shares_a_file_with_bob(app)
            me = await app.graphql(alice["idToken"], "{ me { id } }")
            accounts = app.deps.services.accounts
            assert accounts is not None
            viewer = Principal(user_id=_local(me["data"]["me"]["id"]), username="alice")
            # The process dies right after the point of no return.
            await accounts.deletion.start(viewer, "alice", viewer.user_id)
            assert error_codes(await app.graphql(alice["idToken"], ME)) == ["UNAUTHENTICATED"]
            return bob

    async def after(bob: str) -> None:
        async with open_accounts_app(data_dir) as app:
            assert (await app.graphql(bob, SHARED))["data"] == {"sharedWithMe": {"edges": []}}
            signin = {"username": "alice", "password": PASSWORD}
            assert (await app.http.post("/auth/token", json=signin)).status_code == 401

    bob = asyncio.run(interrupted())
    assert stored_bytes(data_dir) != []
    monkeypatch.setenv("DEMOBACKEND_DATA_DIR", str(data_dir))
    capsys.readouterr()
    assert main(["purge-accounts"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "finished 1 account deletion"
    assert main(["purge-accounts"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "finished 0 account deletions"
    asyncio.run(after(bob))
    assert stored_bytes(data_dir) == []


def stored_bytes(data_dir: Path) -> list[Path]:
    return [path for path in (data_dir / "blobs" / "files").rglob("*") if path.is_file()]


def _local(global_id: str) -> str:
    return from_global_id(global_id)[1]
