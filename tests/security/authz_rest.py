"""The REST rows of the authorization matrix: the whole app in-process (httpx over ASGI),
on the local backend in a temp folder with real tokens from its development identity
provider, or on DynamoDB + S3 + Cognito on moto's server with Cognito tokens. One
app serves every case; each case makes its own file with a name no other case uses, so a
change made in one case is never seen by another."""

import itertools
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from domain.ids import to_global_id
from tests.security.authorization_table import (
    PRIVATE_FIELDS_HIDDEN,
    Case,
    Role,
)
from tests.support.aws_stores import Checkpoint
from tests.support.rest import Rest

USERNAMES = {Role.OWNER: "olivia", Role.OTHER: "oscar", Role.SHAREE: "sam", Role.ADMIN: "ada"}
GROUPS: dict[Role, tuple[str, ...]] = {Role.OWNER: ("staff",), Role.ADMIN: ("admin",)}
SHARE = "mutation($id: ID!, $u: String!) { shareFile(id: $id, username: $u) { id } }"
MISSING_FILE = quote(to_global_id("File", "0123456789abcdef0123456789abcdef"), safe="")


@dataclass
class RestFile:
    id: str
    term: str
    content: bytes

    @property
    def path(self) -> str:
        return f"/rest/files/{quote(self.id, safe='')}"


@dataclass
class RestWorld:
    rest: Rest
    auth: dict[Role, dict[str, str]]
    owner_id: str = ""
    checkpoint: Checkpoint | None = None  # on AWS: the data as open_world left it
    _names: Any = field(default_factory=lambda: itertools.count())

    @property
    def http(self) -> httpx.AsyncClient:
        return self.rest.http

    def fresh_term(self) -> str:
        """Letters only (the analyzer keeps a word whole), never used before."""
        n = next(self._names)
        letters = ""
        for _ in range(4):
            n, digit = divmod(n, 26)
            letters += string.ascii_lowercase[digit]
        return f"zq{letters}"

    async def make_file(self, case: Case) -> RestFile:
        """One file of the owner's, as the case describes it."""
        owner = self.auth[Role.OWNER]
        term = self.fresh_term()
        content = f"the bytes of {term}".encode()
        declared: dict[str, Any] = {"name": f"{term}.txt", "description": "quarterly report"}
        if case is Case.PUBLIC:
            declared["visibility"] = "PUBLIC"
        if case is Case.PENDING:
            body = {"contentType": "text/plain", "size": len(content)} | declared
            created = await self.http.post("/rest/files", json=body, headers=owner)
            assert created.status_code == 201, created.text
            target = created.json()["upload"]
            await self.rest.send(target, content)
            file_id = created.json()["file"]["id"]
        else:
            file_id = (await self.rest.upload(owner, content, **declared))["id"]
        if case is not Case.PRIVATE:
            await self.rest.graphql(owner, SHARE, {"id": file_id, "u": USERNAMES[Role.SHAREE]})
        return RestFile(file_id, term, content)

    async def owner_view(self, file: RestFile) -> tuple[int, Any]:
        got = await self.http.get(file.path, headers=self.auth[Role.OWNER])
        return got.status_code, got.json()


async def open_world(rest: Rest) -> RestWorld:
    auth: dict[Role, dict[str, str]] = {Role.ANONYMOUS: {}}
    for role, username in USERNAMES.items():
        auth[role] = await rest.auth(username, GROUPS.get(role, ()))
        me = await rest.http.get("/rest/me", headers=auth[role])  # makes the profile
        assert me.status_code == 200, me.text
    world = RestWorld(rest, auth)
    owner = await rest.http.get("/rest/me", headers=auth[Role.OWNER])
    world.owner_id = owner.json()["id"]
    return world


def _status(response: httpx.Response) -> str:
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["requestId"] == response.headers["x-request-id"]
        assert "Traceback" not in response.text
        if response.status_code == 401:
            assert response.headers["www-authenticate"] == "Bearer"
    return str(response.status_code)


async def _same_as_missing(
    world: RestWorld, role: Role, response: httpx.Response, method: str, path: str, **kw: Any
) -> None:
    """A 404 for an unreadable file says what a 404 for a missing one says."""
    if response.status_code != 404:
        return
    missing = await world.http.request(
        method, path.replace("{id}", MISSING_FILE), headers=world.auth[role], **kw
    )
    assert missing.status_code == 404
    assert missing.json()["error"] | {"requestId": ""} == response.json()["error"] | {
        "requestId": ""
    }


Probe = Callable[[RestWorld, Role, Case], Awaitable[str]]


async def _openapi(world: RestWorld, role: Role, case: Case) -> str:
    response = await world.http.get("/rest/openapi.json", headers=world.auth[role])
    assert response.status_code != 200 or response.json()["openapi"].startswith("3.1")
    return _status(response)


async def _me(world: RestWorld, role: Role, case: Case) -> str:
    response = await world.http.get("/rest/me", headers=world.auth[role])
    if response.status_code == 200:
        assert response.json()["username"] == USERNAMES[role]
    return _status(response)


async def _user(world: RestWorld, role: Role, case: Case) -> str:
    path = f"/rest/users/{quote(world.owner_id, safe='')}"
    response = await world.http.get(path, headers=world.auth[role])
    if response.status_code != 200:
        return _status(response)
    body = response.json()
    assert body["username"] == USERNAMES[Role.OWNER]
    if body["groups"] == list(GROUPS[Role.OWNER]):
        return "200"
    assert body["groups"] == [] and body["email"] is None, body
    return PRIVATE_FIELDS_HIDDEN


def _listed(response: httpx.Response, file_id: str) -> str:
    if response.status_code != 200:
        return _status(response)
    items = response.json()["items"]
    ids = [item.get("id") or item.get("node", {}).get("id") for item in items]
    return "200 listed" if file_id in ids else "200 not listed"


async def _list_files(world: RestWorld, role: Role, case: Case) -> str:
    file = await world.make_file(case)
    response = await world.http.get("/rest/files?first=100", headers=world.auth[role])
    return _listed(response, file.id)


async def _search(world: RestWorld, role: Role, case: Case) -> str:
    file = await world.make_file(case)
    params = {"q": file.term, "type": "FILE"}
    response = await world.http.get("/rest/search", params=params, headers=world.auth[role])
    return _listed(response, file.id)


async def _cursor(world: RestWorld, role: Role, case: Case) -> str:
    return await _replayed_cursor(world, role, backward=False)


async def _backward_cursor(world: RestWorld, role: Role, case: Case) -> str:
    return await _replayed_cursor(world, role, backward=True)


async def _replayed_cursor(world: RestWorld, role: Role, *, backward: bool) -> str:
    """The owner pages once; the role asks for the owner's next (``backward``: previous)
    page with the owner's cursor."""
    size, cursor, argument = (
        ("last", "startCursor", "before") if backward else ("first", "endCursor", "after")
    )
    for _ in range(2):
        await world.make_file(Case.PRIVATE)
    owner = world.auth[Role.OWNER]
    first = await world.http.get(f"/rest/files?{size}=1", headers=owner)
    position = first.json()["pageInfo"][cursor]
    assert position, first.text
    params = {size: "1", argument: position}
    second = await world.http.get("/rest/files", params=params, headers=owner)
    assert second.json()["items"], second.text
    response = await world.http.get("/rest/files", params=params, headers=world.auth[role])
    if response.status_code == 200:
        assert response.json() == second.json()
    return _status(response)


async def _create(world: RestWorld, role: Role, case: Case) -> str:
    body = {"name": "new.txt", "contentType": "text/plain", "size": 3}
    response = await world.http.post("/rest/files", json=body, headers=world.auth[role])
    if response.status_code == 201:
        assert response.json()["file"]["owner"]["username"] == USERNAMES[role]
    return _status(response)


async def _get_file(world: RestWorld, role: Role, case: Case) -> str:
    file = await world.make_file(case)
    response = await world.http.get(file.path, headers=world.auth[role])
    if response.status_code == 200:
        seen, owners = response.json(), (await world.owner_view(file))[1]
        # Whom the file is shared with is for the owner and admins only.
        shares = owners["sharedWith"] if role in (Role.OWNER, Role.ADMIN) else []
        assert seen == owners | {"sharedWith": shares}
    await _same_as_missing(world, role, response, "GET", "/rest/files/{id}")
    return _status(response)


def _change_probe(
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
    effect: Callable[[int, Any], bool],
) -> Probe:
    """A change by the role; refused ones leave the owner's view exactly as it was."""

    async def run(world: RestWorld, role: Role, case: Case) -> str:
        file = await world.make_file(case)
        before = await world.owner_view(file)
        kw: dict[str, Any] = {} if body is None else {"json": body}
        response = await world.http.request(
            method, file.path + suffix, headers=world.auth[role], **kw
        )
        after = await world.owner_view(file)
        if response.status_code < 400:
            assert effect(*after), after
        else:
            assert after == before
            await _same_as_missing(world, role, response, method, "/rest/files/{id}" + suffix, **kw)
        return _status(response)

    return run


async def _download(world: RestWorld, role: Role, case: Case) -> str:
    file = await world.make_file(case)
    response = await world.http.get(file.path + "/download", headers=world.auth[role])
    if response.status_code == 302:
        # Like a browser following the redirect: no Authorization, the URL is the capability.
        got = await world.rest.fetch(response.headers["location"])
        assert got.status_code == 200 and got.content == file.content
    await _same_as_missing(world, role, response, "GET", "/rest/files/{id}/download")
    return _status(response)


REST_PROBES: dict[str, Probe] = {
    "GET /rest/openapi.json": _openapi,
    "GET /rest/me": _me,
    "GET /rest/users/{id}": _user,
    "GET /rest/files": _list_files,
    "GET /rest/files?after=": _cursor,
    "GET /rest/files?before=": _backward_cursor,
    "POST /rest/files": _create,
    "GET /rest/files/{id}": _get_file,
    "PATCH /rest/files/{id}": _change_probe(
        "PATCH", "", {"name": "renamed.txt"}, lambda status, view: view["name"] == "renamed.txt"
    ),
    "DELETE /rest/files/{id}": _change_probe("DELETE", "", None, lambda status, _: status == 404),
    "POST /rest/files/{id}/complete": _change_probe(
        "POST", "/complete", None, lambda status, view: view["status"] == "READY"
    ),
    "GET /rest/files/{id}/download": _download,
    "GET /rest/search?q=": _search,
}
