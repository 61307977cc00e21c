"""What the sign-out check costs per request, in store calls (the request's log line), and
that a sign-out refuses the very next request on each path. The check is one batched read
of the caller's profile and tombstone; `me` and `owner` edges then read the profile from
the request's loader, so there it costs nothing more. A request that reads no user item
of its own (a file by id, a REST file) pays that one read on top of its own."""

from pathlib import Path
from typing import Any

import pytest

from tests.support.accounts import AccountsApp, bearer, error_codes, open_accounts_app
from tests.support.rest import Rest

ME = "query { me { username } }"
FILE = "query($id: ID!) { file(id: $id) { name } }"
FILE_WITH_OWNER = "query($id: ID!) { file(id: $id) { name owner { username } } }"


async def graphql_calls(app: AccountsApp, token: str, query: str, **variables: Any) -> int:
    answer = await app.graphql(token, query, variables)
    assert "errors" not in answer, answer
    calls: int = app.request_line(answer["x-request-id"])["item_calls"]
    return calls


async def test_store_calls_per_request_and_sign_out_on_the_very_next_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with open_accounts_app(tmp_path, capsys) as app:
        await app.signup("alice")
        token = (await app.sign_in("alice"))["idToken"]
        uploaded = await Rest(app.http, app.deps).upload(bearer(token))
        file_gid = uploaded["id"]
        await app.graphql(token, ME)  # warm: the profile exists and is in sync

        # me: the check's read is the profile read `me` needs anyway.
        assert await graphql_calls(app, token, ME) == 1
        # A file and its owner: the file's read, and the owner is the caller (primed).
        assert await graphql_calls(app, token, FILE_WITH_OWNER, id=file_gid) == 2
        # A file alone: the file's read plus the check's.
        assert await graphql_calls(app, token, FILE, id=file_gid) == 2
        rest = await app.http.get(f"/rest/files/{file_gid}", headers=bearer(token))
        assert rest.status_code == 200, rest.text
        assert app.request_line(rest.headers["x-request-id"])["item_calls"] == 2

        signed_out = await app.http.post("/auth/signout", headers=bearer(token))
        assert signed_out.status_code == 204
        # The very next request on each path is refused, in the same process, no wait.
        assert error_codes(await app.graphql(token, ME)) == ["UNAUTHENTICATED"]
        assert error_codes(await app.graphql(token, FILE, {"id": file_gid})) == ["UNAUTHENTICATED"]
        refused = await app.http.get(f"/rest/files/{file_gid}", headers=bearer(token))
        assert refused.status_code == 401
