"""What the sign-out check costs per request, in store calls (the request's log line), and
that a sign-out refuses the very next request on each path. The check needs the caller's
profile and tombstone; it adds them to the request's first batched read, so it costs no
call of its own: `me` reads the profile anyway, a file by id (GraphQL or REST) reads the
two items with the file's in one batch, and the owner edge then finds the caller primed.
A refused request answers UNAUTHENTICATED (401 over REST) and no data, and a refused
mutation writes nothing: its one store call is the check's read."""

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.accounts import AccountsApp, bearer, error_codes, open_accounts_app
from tests.support.rest import Rest, open_rest

ME = "query { me { username } }"
FILE = "query($id: ID!) { file(id: $id) { name } }"
FILE_WITH_OWNER = "query($id: ID!) { file(id: $id) { name owner { username } } }"
TYPENAME = "{ __typename }"
MY_FILES = "query { myFiles(first: 5) { edges { node { name } } } }"
CREATE_UPLOAD = """mutation($input: CreateUploadInput!) {
  createUpload(input: $input) { file { id } }
}"""
UPLOAD_INPUT = {"name": "late.txt", "contentType": "text/plain", "size": 5}


async def graphql_calls(app: AccountsApp, token: str, query: str, **variables: Any) -> int:
    answer = await app.graphql(token, query, variables)
    assert "errors" not in answer, answer
    calls: int = app.request_line(answer["x-request-id"])["item_calls"]
    return calls


async def refused_calls(app: AccountsApp, token: str, query: str, **variables: Any) -> int:
    """Refused with no field data; the store calls the refusal cost."""
    answer = await app.graphql(token, query, variables)
    assert error_codes(answer) == ["UNAUTHENTICATED"], answer
    assert answer.get("data") is None, answer
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
        # A file alone: the file's read carries the check's two keys.
        assert await graphql_calls(app, token, FILE, id=file_gid) == 1
        # ... and the owner is the caller, primed by that read.
        assert await graphql_calls(app, token, FILE_WITH_OWNER, id=file_gid) == 1
        rest = await app.http.get(f"/rest/files/{file_gid}", headers=bearer(token))
        assert rest.status_code == 200, rest.text
        assert app.request_line(rest.headers["x-request-id"])["item_calls"] == 1
        # No store call of its own: the check's read is the request's only one.
        assert await graphql_calls(app, token, TYPENAME) == 1

        signed_out = await app.http.post("/auth/signout", headers=bearer(token))
        assert signed_out.status_code == 204
        # The very next request on each path is refused, in the same process, no wait.
        assert await refused_calls(app, token, ME) == 1
        assert await refused_calls(app, token, FILE, id=file_gid) == 1
        assert await refused_calls(app, token, TYPENAME) == 1
        # A listing's first call is a query: it waits for the check's own read.
        assert await refused_calls(app, token, MY_FILES) == 1
        refused = await app.http.get(f"/rest/files/{file_gid}", headers=bearer(token))
        assert refused.status_code == 401
        assert "name" not in refused.text
        assert app.request_line(refused.headers["x-request-id"])["item_calls"] == 1


async def test_a_refused_mutation_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """createUpload's first item call is a write: the check's read comes before it."""
    async with open_accounts_app(tmp_path, capsys) as app:
        await app.signup("alice")
        token = (await app.sign_in("alice"))["idToken"]
        await app.graphql(token, ME)
        assert (await app.http.post("/auth/signout", headers=bearer(token))).status_code == 204

        before = await every_item(app)

        assert await refused_calls(app, token, CREATE_UPLOAD, input=UPLOAD_INPUT) == 1
        assert await every_item(app) == before


async def every_item(app: AccountsApp) -> list[dict[str, Any]]:
    return [item async for page in app.deps.items.scan() for item in page]


async def test_the_fold_on_each_item_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], backend: str
) -> None:
    """SQLite's batch and DynamoDB's BatchGetItem (on moto's server, Cognito's tokens there):
    a file by id is one call, and after signOutEverywhere the same token is refused."""
    async with open_rest(tmp_path, backend) as rest:
        auth = await rest.auth("carol")
        file_gid = (await rest.upload(auth))["id"]
        await rest.graphql(auth, ME)  # warm: the profile exists and is in sync

        def item_calls(response: httpx.Response) -> int:
            lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
            request_id = response.headers["x-request-id"]
            [line] = [line for line in lines if line.get("request_id") == request_id]
            calls: int = line["item_calls"]
            return calls

        read = await rest.http.post(
            "/graphql", json={"query": FILE, "variables": {"id": file_gid}}, headers=auth
        )
        assert read.json() == {"data": {"file": {"name": "notes.txt"}}}
        assert item_calls(read) == 1
        got = await rest.http.get(f"/rest/files/{file_gid}", headers=auth)
        assert got.status_code == 200 and item_calls(got) == 1

        await rest.graphql(auth, "mutation { signOutEverywhere }")
        refused = await rest.http.post(
            "/graphql", json={"query": FILE, "variables": {"id": file_gid}}, headers=auth
        )
        assert refused.json()["data"] is None
        assert error_codes(refused.json()) == ["UNAUTHENTICATED"]
        assert item_calls(refused) == 1
        assert (await rest.http.get(f"/rest/files/{file_gid}", headers=auth)).status_code == 401
