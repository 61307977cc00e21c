"""The persisted-operation allow-list on /graphql, through the whole app: with a list, only
registered documents run (by APQ hash, by documentId, or as their exact text); anything
else is refused before a resolver runs. Without one, nothing changes. REST keeps working."""

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import build_app
from api.bootstrap import build_deps
from api.persisted_operations import document_hash
from api.settings import SettingsError, load_settings
from scripts.persist_operations import main as persist_main
from tests.support.rest import Rest, open_rest

ME = "query Me { me { username displayName } }"
RENAME = "mutation Rename($name: String) { updateProfile(displayName: $name) { displayName } }"
UNREGISTERED = 'mutation { updateProfile(displayName: "pwned") { displayName } }'


def apq(document: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": document_hash(document)}}


def write_list(folder: Path, *documents: str) -> Path:
    path = folder / "ops.json"
    path.write_text(json.dumps({f"sha256:{document_hash(d)}": d for d in documents}))
    return path


@pytest.fixture
async def listed(tmp_path: Path) -> AsyncIterator[Rest]:
    ops = write_list(tmp_path, ME, RENAME)
    async with open_rest(tmp_path / "data", persisted_operations_file=ops) as rest:
        yield rest


@pytest.fixture
async def unlisted(tmp_path: Path) -> AsyncIterator[Rest]:
    async with open_rest(tmp_path) as rest:
        yield rest


async def post(rest: Rest, auth: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    return await rest.http.post("/graphql", json=body, headers=auth)


async def display_name(rest: Rest, auth: dict[str, str]) -> Any:
    response = await post(rest, auth, {"extensions": apq(ME)})
    assert response.status_code == 200, response.text
    return response.json()["data"]["me"]["displayName"]


def refusal(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == code
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    assert "data" not in response.json()
    message: str = error["message"]
    return message


@pytest.mark.parametrize(
    "body",
    [
        {"extensions": apq(ME)},
        {"extensions": apq(ME), "query": ME},
        {"documentId": f"sha256:{document_hash(ME)}"},
        {"documentId": document_hash(ME).upper()},
        {"query": ME},  # the registered text itself
    ],
    ids=["apq-hash", "apq-hash-and-query", "document-id", "bare-hex-id", "registered-text"],
)
async def test_a_registered_operation_runs(listed: Rest, body: dict[str, Any]) -> None:
    alice = await listed.auth("alice")
    response = await post(listed, alice, body)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"me": {"username": "alice", "displayName": None}}}


async def test_a_registered_mutation_runs_with_its_variables(listed: Rest) -> None:
    alice = await listed.auth("alice")
    body = {"documentId": f"sha256:{document_hash(RENAME)}", "variables": {"name": "Al"}}
    response = await post(listed, alice, body)
    assert response.json() == {"data": {"updateProfile": {"displayName": "Al"}}}
    assert await display_name(listed, alice) == "Al"


async def test_registered_queries_run_over_get_and_mutations_stay_post_only(listed: Rest) -> None:
    alice = await listed.auth("alice")
    by_id = await listed.http.get(
        "/graphql", params={"documentId": f"sha256:{document_hash(ME)}"}, headers=alice
    )
    assert by_id.json()["data"]["me"]["username"] == "alice"
    by_apq = await listed.http.get(
        "/graphql", params={"extensions": json.dumps(apq(ME))}, headers=alice
    )
    assert by_apq.json()["data"]["me"]["username"] == "alice"
    rename = await listed.http.get(
        "/graphql",
        params={"extensions": json.dumps(apq(RENAME)), "variables": '{"name": "x"}'},
        headers=alice,
    )
    refusal(rename, 405, "METHOD_NOT_ALLOWED")
    assert await display_name(listed, alice) is None


async def test_an_unregistered_query_is_refused_before_any_resolver(listed: Rest) -> None:
    alice = await listed.auth("alice")
    response = await post(listed, alice, {"query": UNREGISTERED})
    assert "registered" in refusal(response, 403, "OPERATION_NOT_ALLOWED")
    assert await display_name(listed, alice) is None
    # Not even the schema's shape: introspection is a document like any other.
    schema = await post(listed, {}, {"query": "{ __schema { types { name } } }"})
    refusal(schema, 403, "OPERATION_NOT_ALLOWED")
    # A registered document with one character changed is a different document.
    refusal(await post(listed, alice, {"query": ME + " "}), 403, "OPERATION_NOT_ALLOWED")


async def test_an_unknown_hash_is_not_found(listed: Rest) -> None:
    alice = await listed.auth("alice")
    for body in ({"extensions": apq(UNREGISTERED)}, {"documentId": "sha256:" + "0" * 64}):
        refusal(await post(listed, alice, body), 400, "PERSISTED_QUERY_NOT_FOUND")


async def test_a_query_that_does_not_match_its_hash_is_refused(listed: Rest) -> None:
    alice = await listed.auth("alice")
    # The hash is registered, the text is not: running either would be wrong.
    forged = {"query": UNREGISTERED, "extensions": apq(ME)}
    assert "does not match" in refusal(await post(listed, alice, forged), 400, "BAD_REQUEST")
    both = {"documentId": f"sha256:{document_hash(RENAME)}", "extensions": apq(ME)}
    refusal(await post(listed, alice, both), 400, "BAD_REQUEST")
    assert await display_name(listed, alice) is None


@pytest.mark.parametrize(
    "body",
    [
        {"documentId": "sha1:abc"},
        {"documentId": 42},
        {"extensions": {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}}},
        {"extensions": {"persistedQuery": "yes"}},
        {},
    ],
)
async def test_malformed_persisted_requests_are_400(listed: Rest, body: dict[str, Any]) -> None:
    refusal(await post(listed, {}, body), 400, "BAD_REQUEST")


async def test_without_a_list_queries_run_as_before(unlisted: Rest) -> None:
    alice = await unlisted.auth("alice")
    ran = await post(unlisted, alice, {"query": UNREGISTERED})
    assert ran.json() == {"data": {"updateProfile": {"displayName": "pwned"}}}
    # A hash alongside the text is ignored; a bare hash cannot be looked up, and the code
    # tells APQ clients to send the text instead.
    with_hash = await post(unlisted, alice, {"query": ME, "extensions": apq(ME)})
    assert with_hash.json()["data"]["me"]["displayName"] == "pwned"
    bare = await post(unlisted, alice, {"extensions": apq(ME)})
    refusal(bare, 400, "PERSISTED_QUERY_NOT_SUPPORTED")


async def test_rest_runs_its_own_documents_with_the_list_on(listed: Rest) -> None:
    alice = await listed.auth("alice")
    me = await listed.http.get("/rest/me", headers=alice)
    assert me.status_code == 200 and me.json()["username"] == "alice"
    ready = await listed.upload(alice, b"persisted")
    page = await listed.http.get("/rest/files", headers=alice)
    assert [item["id"] for item in page.json()["items"]] == [ready["id"]]
    found = await listed.http.get("/rest/search", params={"q": "notes"}, headers=alice)
    assert found.status_code == 200


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "cannot read"),
        ("{not json", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ("{}", "lists no operations"),
        (json.dumps({"sha256:" + "0" * 64: ME}), "does not hash to its key"),
        (json.dumps({"me": ME}), "is not a SHA-256 hash"),
    ],
)
async def test_a_bad_list_stops_start_up_with_one_line(
    tmp_path: Path, content: str | None, reason: str
) -> None:
    ops = tmp_path / "ops.json"
    if content is not None:
        ops.write_text(content)
    settings = load_settings(data_dir=tmp_path / "data", persisted_operations_file=ops)
    deps = build_deps(settings)
    try:
        with pytest.raises(SettingsError) as raised:
            build_app(settings, deps)
    finally:
        await deps.aclose()
    message = str(raised.value)
    assert message.startswith("invalid setting DEMOBACKEND_PERSISTED_OPERATIONS_FILE: ")
    assert reason in message and "\n" not in message


async def test_the_script_builds_a_list_the_server_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "me.graphql").write_text(ME + "\n")
    (docs / "rename.graphql").write_text(RENAME + "\n")
    assert persist_main([str(docs)]) == 0
    captured = capsys.readouterr()
    ops = tmp_path / "ops.json"
    ops.write_text(captured.out)
    assert "me.graphql: Me sha256:" in captured.err
    assert set(json.loads(captured.out)) == {
        f"sha256:{document_hash(ME + chr(10))}",
        f"sha256:{document_hash(RENAME + chr(10))}",
    }
    async with open_rest(tmp_path / "data", persisted_operations_file=ops) as rest:
        alice = await rest.auth("alice")
        body = {"documentId": f"sha256:{document_hash(ME + chr(10))}"}
        response = await post(rest, alice, body)
        assert response.json()["data"]["me"]["username"] == "alice"


async def test_an_apollo_manifest_is_accepted_as_the_list(tmp_path: Path) -> None:
    manifest = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{"id": document_hash(ME), "name": "Me", "type": "query", "body": ME}],
    }
    ops = tmp_path / "manifest.json"
    ops.write_text(json.dumps(manifest))
    async with open_rest(tmp_path / "data", persisted_operations_file=ops) as rest:
        alice = await rest.auth("alice")
        ran = await post(rest, alice, {"extensions": apq(ME)})
        assert ran.json()["data"]["me"]["username"] == "alice"
        refusal(await post(rest, alice, {"query": RENAME}), 403, "OPERATION_NOT_ALLOWED")


def test_the_server_refuses_to_start_on_a_missing_list(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DEMOBACKEND_DATA_DIR": str(tmp_path / "data"),
        "DEMOBACKEND_PERSISTED_OPERATIONS_FILE": str(tmp_path / "missing.json"),
    }
    finished = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve", "--port", "1"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 2
    [line] = finished.stderr.strip().splitlines()
    assert line.startswith(
        "demobackend: invalid setting DEMOBACKEND_PERSISTED_OPERATIONS_FILE: cannot read "
    )
    assert "Traceback" not in finished.stdout + finished.stderr


@pytest.mark.parametrize(
    ("text", "reason"),
    [("query { me { nope } }", "nope"), ("query {", "Syntax Error")],
)
def test_the_script_refuses_a_document_the_schema_would_refuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, reason: str
) -> None:
    stale = tmp_path / "stale.graphql"
    stale.write_text(text)
    assert persist_main([str(stale)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert reason in captured.err and captured.err.count("\n") == 1
