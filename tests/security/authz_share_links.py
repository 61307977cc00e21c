"""The share-link cells of the authorization matrix: createShareLink, revokeShareLink and
File.shareLinks over GraphQL (the real schema over the in-memory stores) and their REST
routes (the whole app in-process). A link a probe makes is followed anonymously, the way
anyone handed its URL would."""

from typing import Any
from urllib.parse import quote, urlsplit

from tests.security.authorization_table import Case, Outcome, Role
from tests.security.authz_probes import Observed, Probe, refusal, unexpected
from tests.security.authz_rest import MISSING_FILE as REST_MISSING_FILE
from tests.security.authz_rest import RestWorld, _same_as_missing, _status
from tests.security.authz_world import MISSING_FILE, World

LINK = "id url expiresAt downloads maxDownloads createdAt"
CREATE_LINK = f"mutation($id: ID!) {{ createShareLink(fileId: $id) {{ {LINK} }} }}"
REVOKE_LINK = "mutation($id: ID!) { revokeShareLink(id: $id) }"
FILE_LINKS = f"query($id: ID!) {{ file(id: $id) {{ shareLinks {{ {LINK} }} }} }}"
OWNER_LINKS = "query($id: ID!) { file(id: $id) { version shareLinks { id downloads } } }"


def _token(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1]


async def _follow(world: World, url: str) -> bytes | None:
    """The bytes an anonymous follower of ``url`` gets; None when the link answers 404."""
    download = await world.client.services.files.follow_share_link(_token(url))
    if download is None:
        return None
    return world.download(download)


async def _owner_links(world: World, case: Case) -> Any:
    result = await world.run(OWNER_LINKS, Role.OWNER, {"id": world.files[case]})
    assert result.errors == [], result.errors
    return result.data["file"]


async def _owner_makes_link(world: World, case: Case) -> dict[str, Any]:
    made = await world.run(CREATE_LINK, Role.OWNER, {"id": world.files[case]})
    assert made.errors == [], made.errors
    link: dict[str, Any] = made.data["createShareLink"]
    return link


async def _create(world: World, role: Role, case: Case) -> Observed:
    store_before = await world.store_snapshot()
    result = await world.run(CREATE_LINK, role, {"id": world.files[case]})
    refused = refusal(result)
    if refused is None:
        link = result.data["createShareLink"]
        served = await _follow(world, link["url"])
        listed = [x["id"] for x in (await _owner_links(world, case))["shareLinks"]]
        ok = served == world.contents[case] and listed == [link["id"]]
        return Outcome.ALLOW if ok else unexpected(link)
    assert await world.store_snapshot() == store_before, "a refused mutation wrote"
    if refused is Outcome.NOT_FOUND:
        missing = await world.run(CREATE_LINK, role, {"id": MISSING_FILE})
        assert missing.errors == result.errors
    return refused


async def _revoke(world: World, role: Role, case: Case) -> Observed:
    link = await _owner_makes_link(world, case)
    store_before = await world.store_snapshot()
    result = await world.run(REVOKE_LINK, role, {"id": link["id"]})
    refused = refusal(result)
    if refused is None:
        gone = await _follow(world, link["url"]) is None
        ok = result.data["revokeShareLink"] == link["id"] and gone
        return Outcome.ALLOW if ok else unexpected(result.data)
    assert await world.store_snapshot() == store_before, "a refused mutation wrote"
    assert await _follow(world, link["url"]) == world.contents[case]
    if refused is Outcome.NOT_FOUND:
        missing = await world.run(REVOKE_LINK, role, {"id": MISSING_FILE})
        assert missing.errors == result.errors
    return refused


async def _file_links(world: World, role: Role, case: Case) -> Observed:
    if case is not Case.PENDING:
        await _owner_makes_link(world, case)
    result = await world.run(FILE_LINKS, role, {"id": world.files[case]})
    refused = refusal(result)
    if refused is not None:
        return refused
    if result.data["file"] is None:
        missing = await world.run(FILE_LINKS, role, {"id": MISSING_FILE})
        assert missing.data == result.data
        return Outcome.NOT_FOUND
    seen = result.data["file"]["shareLinks"]
    if seen == []:
        return Outcome.EMPTY
    owners = await world.run(FILE_LINKS, Role.OWNER, {"id": world.files[case]})
    return Outcome.ALLOW if seen == owners.data["file"]["shareLinks"] else unexpected(seen)


SHARE_LINK_PROBES: dict[tuple[str, str], Probe] = {
    ("Mutation.createShareLink", ""): Probe((CREATE_LINK, OWNER_LINKS), _create),
    ("Mutation.revokeShareLink", ""): Probe((CREATE_LINK, REVOKE_LINK), _revoke),
    ("File.shareLinks", ""): Probe((FILE_LINKS,), _file_links),
}


# --- REST ---


async def _rest_follow(world: RestWorld, url: str) -> bytes | None:
    followed = await world.http.get(urlsplit(url).path)  # anonymous
    if followed.status_code == 404:
        return None
    assert followed.status_code == 302, followed.text
    got = await world.rest.fetch(followed.headers["location"])
    assert got.status_code == 200
    return got.content


async def _rest_create(world: RestWorld, role: Role, case: Case) -> str:
    file = await world.make_file(case)
    before = await world.owner_view(file)
    path = file.path + "/share-links"
    response = await world.http.post(path, json={}, headers=world.auth[role])
    if response.status_code == 201:
        assert await _rest_follow(world, response.json()["url"]) == file.content
    else:
        assert await world.owner_view(file) == before
        await _same_as_missing(
            world, role, response, "POST", "/rest/files/{id}/share-links", json={}
        )
    return _status(response)


async def _rest_list(world: RestWorld, role: Role, case: Case) -> str:
    file = await world.make_file(case)
    path = file.path + "/share-links"
    if case is not Case.PENDING:
        made = await world.http.post(path, json={}, headers=world.auth[Role.OWNER])
        assert made.status_code == 201, made.text
    response = await world.http.get(path, headers=world.auth[role])
    await _same_as_missing(world, role, response, "GET", "/rest/files/{id}/share-links")
    status = _status(response)
    if status == "200" and response.json()["items"] == []:
        return "200 empty"
    return status


async def _rest_revoke(world: RestWorld, role: Role, case: Case) -> str:
    file = await world.make_file(case)
    owner = world.auth[Role.OWNER]
    made = await world.http.post(file.path + "/share-links", json={}, headers=owner)
    assert made.status_code == 201, made.text
    link = made.json()
    response = await world.http.delete(
        f"/rest/share-links/{quote(link['id'], safe='')}", headers=world.auth[role]
    )
    served = await _rest_follow(world, link["url"])
    if response.status_code == 204:
        assert served is None
    else:
        assert served == file.content
    if response.status_code == 404:
        missing = await world.http.delete(
            f"/rest/share-links/{REST_MISSING_FILE}", headers=world.auth[role]
        )
        assert missing.json()["error"] | {"requestId": ""} == response.json()["error"] | {
            "requestId": ""
        }
    return _status(response)


SHARE_LINK_REST_PROBES = {
    "POST /rest/files/{id}/share-links": _rest_create,
    "GET /rest/files/{id}/share-links": _rest_list,
    "DELETE /rest/share-links/{id}": _rest_revoke,
}
