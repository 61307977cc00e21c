"""The multipart cells of the authorization matrix: createUpload with multipart, uploadParts,
completeUpload with parts, abortUpload and File.uploadedParts over GraphQL (the real schema
over the in-memory stores) and their REST routes (the whole app in-process). A MULTIPART
case is made afresh by the probe: the owner opens a multipart upload, shares it with the
sharee and sends its one part; then the role acts."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.security.authorization_table import Case, Outcome, Role
from tests.security.authz_probes import Observed, Probe, Run, refusal, unexpected
from tests.security.authz_rest import SHARE as REST_SHARE
from tests.security.authz_rest import USERNAMES, RestFile, RestWorld, _same_as_missing, _status
from tests.security.authz_world import MISSING_FILE, SHARE, World

CONTENT = b"the bytes of a multipart upload"
CREATE_MP = """mutation($input: CreateUploadInput!) {
  createUpload(input: $input) {
    file { id status }
    upload { url }
    multipart { partSize partCount expiresAt partChecksums }
  }
}"""
PARTS = """mutation($id: ID!) {
  uploadParts(id: $id, partNumbers: [1]) { partNumber url method headers }
}"""
COMPLETE_PARTS = """mutation($id: ID!, $parts: [CompletedPart!]) {
  completeUpload(id: $id, parts: $parts) { id status sha256 }
}"""
ABORT = "mutation($id: ID!) { abortUpload(id: $id) }"
UPLOADED = "query($id: ID!) { file(id: $id) { uploadedParts } }"
OWNER_VIEW = "query($id: ID!) { file(id: $id) { status version uploadedParts } }"
MP_INPUT = {
    "name": "parts.bin",
    "contentType": "application/octet-stream",
    "size": len(CONTENT),
    "multipart": True,
}


async def _make(world: World) -> tuple[str, str]:
    """A MULTIPART file: opened by the owner, shared with sharee, its one part sent; (its
    id, the part's ETag)."""
    made = await world.run(CREATE_MP, Role.OWNER, {"input": MP_INPUT})
    assert made.errors == [], made.errors
    file_id: str = made.data["createUpload"]["file"]["id"]
    shared = await world.run(SHARE, Role.OWNER, {"id": file_id, "u": "sam"})
    assert shared.errors == [], shared.errors
    result = await world.run(PARTS, Role.OWNER, {"id": file_id})
    assert result.errors == [], result.errors
    [target] = result.data["uploadParts"]
    return file_id, _send_part(world, target)


def _send_part(world: World, target: dict[str, Any]) -> str:
    """Send CONTENT as the part a target names, as a client does; the store's ETag."""
    if world.client.aws is None:
        return world.client.blobs.receive_part(target["url"], CONTENT, target["headers"])
    response = httpx.put(target["url"], content=CONTENT, headers=target["headers"], timeout=10.0)
    assert response.status_code == 200, response.status_code
    return response.headers["ETag"]


async def _file_of(world: World, case: Case) -> tuple[str, str]:
    return await _make(world) if case is Case.MULTIPART else (world.files[case], '"none"')


async def _owner_view(world: World, file_id: str) -> Any:
    result = await world.run(OWNER_VIEW, Role.OWNER, {"id": file_id})
    assert result.errors == [], result.errors
    return result.data["file"]


Allowed = Callable[[World, str, Any], Awaitable[Observed]]


def _mutation(document: str, extra: Callable[[str], dict[str, Any]], allowed: Allowed) -> Run:
    async def run(world: World, role: Role, case: Case) -> Observed:
        file_id, etag = await _file_of(world, case)
        store_before = await world.store_snapshot()
        view_before = await _owner_view(world, file_id)
        variables = {"id": file_id} | extra(etag)
        result = await world.run(document, role, variables)
        refused = refusal(result)
        if refused is None:
            return await allowed(world, file_id, result.data)
        assert await world.store_snapshot() == store_before, "a refused mutation wrote"
        assert await _owner_view(world, file_id) == view_before
        if refused is Outcome.NOT_FOUND:
            missing = await world.run(document, role, variables | {"id": MISSING_FILE})
            assert missing.errors == result.errors
        return refused

    return run


async def _targets_work(world: World, file_id: str, data: Any) -> Observed:
    [target] = data["uploadParts"]
    _send_part(world, target)
    return Outcome.ALLOW if target["partNumber"] == 1 else unexpected(data)


async def _completed(world: World, file_id: str, data: Any) -> Observed:
    view = await _owner_view(world, file_id)
    ok = data["completeUpload"]["status"] == "READY" and view["status"] == "READY"
    return Outcome.ALLOW if ok else unexpected(data)


async def _aborted(world: World, file_id: str, data: Any) -> Observed:
    gone = await _owner_view(world, file_id) is None
    return Outcome.ALLOW if gone and data["abortUpload"] == file_id else unexpected(data)


def _no_extra(etag: str) -> dict[str, Any]:
    return {}


def _parts(etag: str) -> dict[str, Any]:
    return {"parts": [{"partNumber": 1, "etag": etag}]}


async def _created(world: World, role: Role, case: Case) -> Observed:
    store_before = await world.store_snapshot()
    result = await world.run(CREATE_MP, role, {"input": MP_INPUT})
    refused = refusal(result)
    if refused is not None:
        assert await world.store_snapshot() == store_before, "a refused mutation wrote"
        return refused
    payload = result.data["createUpload"]
    plan = payload["multipart"]
    ok = payload["upload"] is None and plan["partCount"] == 1 and plan["partSize"] >= len(CONTENT)
    return Outcome.ALLOW if ok else unexpected(payload)


async def _uploaded(world: World, role: Role, case: Case) -> Observed:
    file_id, _ = await _file_of(world, case)
    result = await world.run(UPLOADED, role, {"id": file_id})
    refused = refusal(result)
    if refused is not None:
        return refused
    if result.data["file"] is None:
        missing = await world.run(UPLOADED, role, {"id": MISSING_FILE})
        assert missing.data == result.data
        return Outcome.NOT_FOUND
    seen = result.data["file"]["uploadedParts"]
    if seen == []:
        return Outcome.EMPTY
    return Outcome.ALLOW if seen == [1] else unexpected(seen)


MULTIPART_PROBES: dict[tuple[str, str], Probe] = {
    ("Mutation.createUpload", "multipart: true"): Probe((CREATE_MP,), _created),
    ("Mutation.uploadParts", ""): Probe(
        (CREATE_MP, PARTS, OWNER_VIEW), _mutation(PARTS, _no_extra, _targets_work)
    ),
    ("Mutation.completeUpload", "parts"): Probe(
        (CREATE_MP, PARTS, COMPLETE_PARTS, OWNER_VIEW),
        _mutation(COMPLETE_PARTS, _parts, _completed),
    ),
    ("Mutation.abortUpload", ""): Probe(
        (CREATE_MP, PARTS, ABORT, OWNER_VIEW), _mutation(ABORT, _no_extra, _aborted)
    ),
    ("File.uploadedParts", ""): Probe((CREATE_MP, PARTS, UPLOADED), _uploaded),
}


# --- REST ---


async def _rest_file(world: RestWorld, case: Case) -> RestFile:
    if case is not Case.MULTIPART:
        return await world.make_file(case)
    owner = world.auth[Role.OWNER]
    created = await world.http.post("/rest/files", json=MP_INPUT, headers=owner)
    assert created.status_code == 201, created.text
    file_id = created.json()["file"]["id"]
    await world.rest.graphql(owner, REST_SHARE, {"id": file_id, "u": USERNAMES[Role.SHAREE]})
    file = RestFile(file_id, "parts", CONTENT)
    targets = await world.http.post(file.path + "/parts", json={"partNumbers": [1]}, headers=owner)
    assert targets.status_code == 200, targets.text
    [target] = targets.json()["items"]
    sent = await world.rest.send_part(target, CONTENT)
    assert sent.status_code == 200, sent.text
    return file


async def _rest_parts(world: RestWorld, role: Role, case: Case) -> str:
    file = await _rest_file(world, case)
    before = await world.owner_view(file)
    body = {"partNumbers": [1]}
    response = await world.http.post(file.path + "/parts", json=body, headers=world.auth[role])
    if response.status_code == 200:
        [target] = response.json()["items"]
        sent = await world.rest.send_part(target, CONTENT)
        assert sent.status_code == 200, sent.text
    else:
        assert await world.owner_view(file) == before
        await _same_as_missing(world, role, response, "POST", "/rest/files/{id}/parts", json=body)
    return _status(response)


async def _rest_uploaded(world: RestWorld, role: Role, case: Case) -> str:
    file = await _rest_file(world, case)
    response = await world.http.get(file.path + "/parts", headers=world.auth[role])
    await _same_as_missing(world, role, response, "GET", "/rest/files/{id}/parts")
    status = _status(response)
    if status == "200":
        items = response.json()["items"]
        if items == []:
            return "200 empty"
        assert items == [1], items
    return status


async def _rest_abort(world: RestWorld, role: Role, case: Case) -> str:
    file = await _rest_file(world, case)
    before = await world.owner_view(file)
    response = await world.http.post(file.path + "/abort", headers=world.auth[role])
    after = await world.owner_view(file)
    if response.status_code == 204:
        assert after[0] == 404, after
    else:
        assert after == before
        await _same_as_missing(world, role, response, "POST", "/rest/files/{id}/abort")
    return _status(response)


MULTIPART_REST_PROBES = {
    "POST /rest/files/{id}/parts": _rest_parts,
    "GET /rest/files/{id}/parts": _rest_uploaded,
    "POST /rest/files/{id}/abort": _rest_abort,
}
