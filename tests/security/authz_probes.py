"""How each GraphQL row of the authorization matrix is observed: a probe runs its documents
as a role against a World and names the Outcome it saw. A probe never trusts the shape of an
answer: refusals must carry no data, NOT_FOUND must be indistinguishable from an id that
names nothing, refused mutations must leave the store exactly as it was, and an answer that
fits no outcome is returned as a description, which fails the cell."""

import io
import tarfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from domain.ids import from_global_id
from domain.models import Principal
from tests.security.authorization_table import Case, Outcome, Role
from tests.security.authz_world import (
    MISSING_FILE,
    OTHER,
    OWNER,
    PLAIN_FIELDS,
    PRINCIPALS,
    SHAREE,
    TERMS,
    World,
    user_gid,
)
from tests.support.schema_client import GraphQLResult

Observed = Outcome | str
Run = Callable[[World, Role, Case], Awaitable[Observed]]


@dataclass(frozen=True)
class Probe:
    documents: tuple[str, ...]  # every document it runs, so a test can check what it selects
    run: Run


def refusal(result: GraphQLResult) -> Outcome | None:
    """The outcome an answer with errors stands for, once it is shown to carry no data."""
    if not result.errors:
        return None
    codes = set(result.codes)
    assert len(codes) == 1, result.errors
    assert result.data is None or all(value is None for value in result.data.values()), result
    code = codes.pop()
    assert code in Outcome.__members__, result.errors
    return Outcome(code)


def unexpected(value: Any) -> str:
    return f"unexpected answer: {value!r}"


# --- reads of one file by id ---


async def read_root(
    world: World, role: Role, case: Case, document: str, root: str
) -> tuple[Outcome | None, Any]:
    """(refusal or NOT_FOUND, None) or (None, the value at ``root``)."""
    result = await world.run(document, role, {"id": world.files[case]})
    refused = refusal(result)
    if refused is not None:
        return refused, None
    value = result.data[root]
    if value is None:
        missing = await world.run(document, role, {"id": _missing(world)})
        assert (missing.data, missing.errors) == (result.data, result.errors)
        return Outcome.NOT_FOUND, None
    return None, value


def _missing(world: World) -> str:
    assert MISSING_FILE not in world.files.values()
    return MISSING_FILE


def _plain(view: dict[str, Any]) -> dict[str, Any]:
    return {name: view[name] for name in PLAIN_FIELDS.split()}


FILE_PLAIN = f"query($id: ID!) {{ file(id: $id) {{ {PLAIN_FIELDS} }} }}"
FILE_NAME = "query($id: ID!) { file(id: $id) { id name } }"
NODE_FILE = "query($id: ID!) { node(id: $id) { id ... on File { name } } }"
NODE_USER = "query($id: ID!) { node(id: $id) { id ... on User { username } } }"
FILE_OWNER = "query($id: ID!) { file(id: $id) { owner { id username } } }"
FILE_SHARED_WITH = "query($id: ID!) { file(id: $id) { sharedWith { id username } } }"
FILE_DOWNLOAD = "query($id: ID!) { file(id: $id) { downloadUrl } }"


async def _file_plain(world: World, role: Role, case: Case) -> Observed:
    outcome, value = await read_root(world, role, case, FILE_PLAIN, "file")
    if outcome is not None:
        return outcome
    return Outcome.ALLOW if value == _plain(world.reference[case]) else unexpected(value)


async def _file_name(world: World, role: Role, case: Case) -> Observed:
    outcome, value = await read_root(world, role, case, FILE_NAME, "file")
    if outcome is not None:
        return outcome
    wanted = {key: world.reference[case][key] for key in ("id", "name")}
    return Outcome.ALLOW if value == wanted else unexpected(value)


async def _node_file(world: World, role: Role, case: Case) -> Observed:
    outcome, value = await read_root(world, role, case, NODE_FILE, "node")
    if outcome is not None:
        return outcome
    wanted = {key: world.reference[case][key] for key in ("id", "name")}
    return Outcome.ALLOW if value == wanted else unexpected(value)


async def _file_owner(world: World, role: Role, case: Case) -> Observed:
    outcome, value = await read_root(world, role, case, FILE_OWNER, "file")
    if outcome is not None:
        return outcome
    wanted = {"owner": world.reference[case]["owner"]}
    return Outcome.ALLOW if value == wanted else unexpected(value)


async def _file_shared_with(world: World, role: Role, case: Case) -> Observed:
    outcome, value = await read_root(world, role, case, FILE_SHARED_WITH, "file")
    if outcome is not None:
        return outcome
    if value["sharedWith"] == world.reference[case]["sharedWith"]:
        return Outcome.ALLOW
    return Outcome.EMPTY if value["sharedWith"] == [] else unexpected(value)


async def _file_download_url(world: World, role: Role, case: Case) -> Observed:
    outcome, value = await read_root(world, role, case, FILE_DOWNLOAD, "file")
    if outcome is not None:
        return outcome
    url = value["downloadUrl"]
    if url is None:
        return Outcome.NULL
    data = world.download(url)
    return Outcome.ALLOW if data == world.contents[case] else unexpected(data)


async def _node(world: World, role: Role, case: Case) -> Observed:
    if case is Case.PROFILE:
        return await _node_user(world, role, case)
    return await _node_file(world, role, case)


# --- profiles ---

ME = "{ me { id username email groups } }"
USER = "query($id: ID!) { user(id: $id) { id username displayName createdAt } }"
USER_BY_NAME = (
    "query($u: String!) { userByUsername(username: $u) { id username displayName createdAt } }"
)
USER_EMAIL = "query($id: ID!) { user(id: $id) { email } }"
USER_GROUPS = "query($id: ID!) { user(id: $id) { groups } }"
NODE_EMAIL = "query($id: ID!) { node(id: $id) { ... on User { email } } }"
OWNER_EMAIL = "query($id: ID!) { file(id: $id) { owner { email } } }"
SHAREE_EMAIL = "query($id: ID!) { file(id: $id) { sharedWith { id email } } }"
SEARCH_USER = """query($q: String!) {
  search(query: $q, types: [USER], first: 50) {
    edges { cursor score highlights node { __typename ... on User { id email } } }
    pageInfo { hasNextPage endCursor startCursor hasPreviousPage }
  }
}"""


def _public_profile(world: World) -> dict[str, Any]:
    return {key: world.profile[key] for key in ("id", "username", "displayName", "createdAt")}


async def _profile_root(
    world: World, role: Role, document: str, root: str, variables: dict[str, Any]
) -> tuple[Outcome | None, Any]:
    result = await world.run(document, role, variables)
    refused = refusal(result)
    if refused is not None:
        return refused, None
    return None, result.data[root]


async def _me(world: World, role: Role, case: Case) -> Observed:
    outcome, value = await _profile_root(world, role, ME, "me", {})
    if outcome is not None:
        return outcome
    principal = PRINCIPALS[role]
    assert principal is not None
    wanted = {
        "id": user_gid(principal),
        "username": principal.username,
        "email": principal.email,
        "groups": list(principal.groups),
    }
    return Outcome.ALLOW if value == wanted else unexpected(value)


async def _user(world: World, role: Role, case: Case) -> Observed:
    variables = {"id": user_gid(OWNER)}
    outcome, value = await _profile_root(world, role, USER, "user", variables)
    if outcome is not None:
        return outcome
    return Outcome.ALLOW if value == _public_profile(world) else unexpected(value)


async def _user_by_username(world: World, role: Role, case: Case) -> Observed:
    variables = {"u": OWNER.username}
    outcome, value = await _profile_root(world, role, USER_BY_NAME, "userByUsername", variables)
    if outcome is not None:
        return outcome
    return Outcome.ALLOW if value == _public_profile(world) else unexpected(value)


async def _node_user(world: World, role: Role, case: Case) -> Observed:
    variables = {"id": user_gid(OWNER)}
    outcome, value = await _profile_root(world, role, NODE_USER, "node", variables)
    if outcome is not None:
        return outcome
    wanted = {"id": user_gid(OWNER), "username": OWNER.username}
    return Outcome.ALLOW if value == wanted else unexpected(value)


def _email(value: Any, truth: str | None) -> Observed:
    if value == truth:
        return Outcome.ALLOW
    return Outcome.NULL if value is None else unexpected(value)


async def _user_email(world: World, role: Role, case: Case) -> Observed:
    variables = {"id": user_gid(OWNER)}
    outcome, value = await _profile_root(world, role, USER_EMAIL, "user", variables)
    return outcome if outcome is not None else _email(value["email"], OWNER.email)


async def _user_groups(world: World, role: Role, case: Case) -> Observed:
    variables = {"id": user_gid(OWNER)}
    outcome, value = await _profile_root(world, role, USER_GROUPS, "user", variables)
    if outcome is not None:
        return outcome
    if value["groups"] == list(OWNER.groups):
        return Outcome.ALLOW
    return Outcome.EMPTY if value["groups"] == [] else unexpected(value)


async def _node_email(world: World, role: Role, case: Case) -> Observed:
    variables = {"id": user_gid(OWNER)}
    outcome, value = await _profile_root(world, role, NODE_EMAIL, "node", variables)
    return outcome if outcome is not None else _email(value["email"], OWNER.email)


async def _owner_email(world: World, role: Role, case: Case) -> Observed:
    outcome, value = await read_root(world, role, case, OWNER_EMAIL, "file")
    return outcome if outcome is not None else _email(value["owner"]["email"], OWNER.email)


async def _sharee_email(world: World, role: Role, case: Case) -> Observed:
    outcome, value = await read_root(world, role, case, SHAREE_EMAIL, "file")
    if outcome is not None:
        return outcome
    entries = [entry for entry in value["sharedWith"] if entry["id"] == user_gid(SHAREE)]
    if not entries:
        return Outcome.HIDDEN
    return _email(entries[0]["email"], SHAREE.email)


async def _search_user_email(world: World, role: Role, case: Case) -> Observed:
    variables = {"q": OWNER.username}
    outcome, value = await _profile_root(world, role, SEARCH_USER, "search", variables)
    if outcome is not None:
        return outcome
    nodes = [edge["node"] for edge in value["edges"] if edge["node"]["id"] == user_gid(OWNER)]
    return _email(nodes[0]["email"], OWNER.email) if nodes else unexpected(value)


# --- listings and search hits ---

EDGES = (
    "edges { cursor node { id } } pageInfo { hasNextPage endCursor startCursor hasPreviousPage }"
)
MY_FILES = f"{{ myFiles(first: 50) {{ {EDGES} }} }}"
SHARED_WITH_ME = f"{{ sharedWithMe(first: 50) {{ {EDGES} }} }}"
USER_FILES = f"query($id: ID!) {{ user(id: $id) {{ files(first: 50) {{ {EDGES} }} }} }}"
SEARCH_FILE = """query($q: String!) {
  search(query: $q, types: [FILE], first: 50) {
    edges { cursor score highlights node { __typename ... on File { id } } }
    pageInfo { hasNextPage endCursor startCursor hasPreviousPage }
  }
}"""


def _listed(connection: dict[str, Any], node_id: str) -> Observed:
    # A complete first page: nothing beyond it could hint at files the viewer cannot see.
    if connection["pageInfo"]["hasNextPage"]:
        return unexpected(connection["pageInfo"])
    ids = [edge["node"]["id"] for edge in connection["edges"]]
    assert len(ids) == len(set(ids)), ids
    return Outcome.LISTED if node_id in ids else Outcome.HIDDEN


async def _listing(
    world: World, role: Role, document: str, path: tuple[str, ...], variables: dict[str, Any]
) -> tuple[Outcome | None, Any]:
    result = await world.run(document, role, variables)
    refused = refusal(result)
    if refused is not None:
        return refused, None
    value = result.data
    for key in path:
        value = value[key]
    return None, value


def _listing_probe(document: str, path: tuple[str, ...], owner_arg: bool) -> Run:
    async def run(world: World, role: Role, case: Case) -> Observed:
        variables = {"id": user_gid(OWNER)} if owner_arg else {}
        outcome, connection = await _listing(world, role, document, path, variables)
        return outcome if outcome is not None else _listed(connection, world.files[case])

    return run


async def _search_file(world: World, role: Role, case: Case) -> Observed:
    variables = {"q": TERMS[case]}
    outcome, connection = await _listing(world, role, SEARCH_FILE, ("search",), variables)
    if outcome is not None:
        return outcome
    for edge in connection["edges"]:
        assert edge["score"] > 0 and edge["highlights"], edge
    return _listed(connection, world.files[case])


async def _search_user(world: World, role: Role, case: Case) -> Observed:
    variables = {"q": OWNER.username}
    outcome, connection = await _listing(world, role, SEARCH_USER, ("search",), variables)
    return outcome if outcome is not None else _listed(connection, user_gid(OWNER))


# --- cursors replayed by another user ---

PAGE_MY_FILES = f"query($after: String) {{ myFiles(first: 1, after: $after) {{ {EDGES} }} }}"
PAGE_SHARED = f"query($after: String) {{ sharedWithMe(first: 1, after: $after) {{ {EDGES} }} }}"
PAGE_USER_FILES = (
    "query($id: ID!, $after: String) "
    f"{{ user(id: $id) {{ files(first: 1, after: $after) {{ {EDGES} }} }} }}"
)
PAGE_SEARCH = """query($q: String!, $after: String) {
  search(query: $q, types: [FILE], first: 1, after: $after) {
    edges { cursor node { __typename ... on File { id } } }
    pageInfo { hasNextPage endCursor startCursor hasPreviousPage }
  }
}"""


BACK_MY_FILES = f"query($before: String) {{ myFiles(last: 1, before: $before) {{ {EDGES} }} }}"
BACK_SHARED = f"query($before: String) {{ sharedWithMe(last: 1, before: $before) {{ {EDGES} }} }}"
BACK_USER_FILES = (
    "query($id: ID!, $before: String) "
    f"{{ user(id: $id) {{ files(last: 1, before: $before) {{ {EDGES} }} }} }}"
)


def _cursor_probe(
    document: str,
    path: tuple[str, ...],
    maker: Role,
    variables: dict[str, Any],
    *,
    backward: bool = False,
) -> Run:
    """``maker`` pages once; the role asks for the next page (``backward``: the previous
    one) with the maker's cursor."""
    more, cursor, argument = ("hasNextPage", "endCursor", "after")
    if backward:
        more, cursor, argument = ("hasPreviousPage", "startCursor", "before")

    async def run(world: World, role: Role, case: Case) -> Observed:
        outcome, first = await _listing(world, maker, document, path, variables)
        assert outcome is None and first["pageInfo"][more], first
        replay = variables | {argument: first["pageInfo"][cursor]}
        outcome, second = await _listing(world, maker, document, path, replay)
        assert outcome is None and second["edges"], second
        outcome, seen = await _listing(world, role, document, path, replay)
        if outcome is not None:
            return outcome
        return Outcome.ALLOW if seen == second else unexpected(seen)

    return run


def _paged_one_by_one(*, backward: bool) -> Run:
    """Every page of the owner's User.files with first: 1 (``backward``: last: 1 from the
    end), against what the role can read file by file."""
    document = BACK_USER_FILES if backward else PAGE_USER_FILES
    more, cursor, argument = ("hasNextPage", "endCursor", "after")
    if backward:
        more, cursor, argument = ("hasPreviousPage", "startCursor", "before")

    async def run(world: World, role: Role, case: Case) -> Observed:
        readable: list[str] = []
        for file_case in sorted(world.files, key=lambda c: world.reference[c]["createdAt"]):
            outcome, _ = await read_root(world, role, file_case, FILE_NAME, "file")
            if outcome is None:
                readable.insert(0, world.files[file_case])  # newest first, as listed
            elif outcome is not Outcome.NOT_FOUND:
                return outcome
        if backward:
            readable.reverse()  # the order the pages come in
        pages: list[tuple[list[str], bool]] = []
        variables: dict[str, Any] = {"id": user_gid(OWNER)}
        for _ in range(len(world.files) + 2):  # bounded: one page per file, and a spare
            outcome, page = await _listing(world, role, document, ("user", "files"), variables)
            if outcome is not None:
                return outcome
            pages.append(([edge["node"]["id"] for edge in page["edges"]], page["pageInfo"][more]))
            if not page["pageInfo"][more]:
                break
            variables[argument] = page["pageInfo"][cursor]
        wanted = [([file_id], index < len(readable) - 1) for index, file_id in enumerate(readable)]
        return Outcome.ALLOW if pages == wanted else unexpected(pages)

    return run


# --- mutations ---

COMPLETE = "mutation($id: ID!) { completeUpload(id: $id) { id status } }"
UPDATE = 'mutation($id: ID!) { updateFile(input: {id: $id, name: "renamed.txt"}) { id name } }'
DELETE = "mutation($id: ID!) { deleteFile(id: $id) }"
SHARE = "mutation($id: ID!, $u: String!) { shareFile(id: $id, username: $u) { id } }"
UNSHARE = "mutation($id: ID!, $u: String!) { unshareFile(id: $id, username: $u) { id } }"
CREATE = """mutation($input: CreateUploadInput!) {
  createUpload(input: $input) {
    file { id status owner { username } }
    upload { url method fields headers expiresAt }
  }
}"""
UPDATE_PROFILE = 'mutation { updateProfile(displayName: "Renamed") { id displayName } }'

Effect = Callable[[World, Case, Any], Awaitable[bool]]


def _mutation_probe(document: str, root: str, extra: dict[str, Any], effect: Effect) -> Run:
    async def run(world: World, role: Role, case: Case) -> Observed:
        variables = {"id": world.files[case]} | extra
        store_before = await world.store_snapshot()
        view_before = await world.owner_view(case)
        result = await world.run(document, role, variables)
        refused = refusal(result)
        if refused is None:
            return Outcome.ALLOW if await effect(world, case, result.data[root]) else "no effect"
        assert await world.store_snapshot() == store_before, "a refused mutation wrote"
        assert await world.owner_view(case) == view_before
        if refused is Outcome.NOT_FOUND:
            missing = await world.run(document, role, variables | {"id": _missing(world)})
            assert missing.errors == result.errors
        return refused

    return run


async def _completed(world: World, case: Case, answer: Any) -> bool:
    view = await world.owner_view(case)
    return answer["status"] == "READY" and view is not None and view["status"] == "READY"


async def _renamed(world: World, case: Case, answer: Any) -> bool:
    view = await world.owner_view(case)
    return answer["name"] == "renamed.txt" and view is not None and view["name"] == "renamed.txt"


async def _deleted(world: World, case: Case, answer: Any) -> bool:
    return answer == world.files[case] and await world.owner_view(case) is None


async def _shared_with_other(world: World, case: Case, answer: Any) -> bool:
    view = await world.owner_view(case)
    return view is not None and {"id": user_gid(OTHER), "username": "oscar"} in view["sharedWith"]


async def _unshared_sharee(world: World, case: Case, answer: Any) -> bool:
    view = await world.owner_view(case)
    return view is not None and all(u["id"] != user_gid(SHAREE) for u in view["sharedWith"])


def _unchanged_probe(
    document: str, variables: dict[str, Any], check: Callable[[Principal, Any], bool]
) -> Run:
    """Mutations on the caller's own data: refused ones must write nothing."""

    async def run(world: World, role: Role, case: Case) -> Observed:
        before = await world.store_snapshot()
        result = await world.run(document, role, variables)
        refused = refusal(result)
        if refused is not None:
            assert await world.store_snapshot() == before, "a refused mutation wrote"
            return refused
        principal = PRINCIPALS[role]
        assert principal is not None
        answer = next(iter(result.data.values()))
        return Outcome.ALLOW if check(principal, answer) else unexpected(answer)

    return run


def _created(principal: Principal, answer: Any) -> bool:
    upload = answer["upload"]
    return bool(
        answer["file"]["owner"]["username"] == principal.username
        and answer["file"]["status"] == "PENDING"
        and isinstance(upload["url"], str)
        and upload["method"] in ("PUT", "POST")
    )


def _profile_updated(principal: Principal, answer: Any) -> bool:
    return bool(answer == {"id": user_gid(principal), "displayName": "Renamed"})


SIGN_OUT = "mutation { signOutEverywhere }"


def _sign_out_probe() -> Run:
    async def run(world: World, role: Role, case: Case) -> Observed:
        before = await world.store_snapshot()
        result = await world.run(SIGN_OUT, role)
        refused = refusal(result)
        if refused is not None:
            assert await world.store_snapshot() == before, "a refused mutation wrote"
            assert world.client.identity.signed_out == []
            return refused
        principal = PRINCIPALS[role]
        assert principal is not None
        profile = await world.client.services.users.get(principal.user_id)
        marked = profile is not None and profile.signed_out_at is not None
        # Only the caller's own profile changed.
        after = await world.store_snapshot()
        changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
        own = changed == {("USER#" + principal.user_id, "PROFILE")}
        done = world.client.identity.signed_out == [principal.username] and marked and own
        return Outcome.ALLOW if result.data == {"signOutEverywhere": True} and done else "no"

    return run


DELETE_ACCOUNT = "mutation($c: String!, $u: ID) { deleteAccount(confirm: $c, userId: $u) }"


def _delete_account_probe() -> Run:
    async def run(world: World, role: Role, case: Case) -> Observed:
        caller = PRINCIPALS[role]
        target = caller if case is Case.OWN else OWNER
        variables: dict[str, Any] = {"c": target.username if target else "nobody"}
        if case is Case.PROFILE:
            variables["u"] = user_gid(OWNER)
        before, blobs = await world.store_snapshot(), world.client.blob_keys()
        result = await world.run(DELETE_ACCOUNT, role, variables)
        refused = refusal(result)
        if refused is not None:
            assert await world.store_snapshot() == before, "a refused mutation wrote"
            assert world.client.blob_keys() == blobs and world.client.identity.deleted == []
            return refused
        assert target is not None
        gone = await world.client.services.users.get(target.user_id) is None
        done = gone and world.client.identity.deleted == [target.username]
        answer = result.data == {"deleteAccount": user_gid(target)}
        return Outcome.ALLOW if done and answer else unexpected(result.data)

    return run


EXPORT = "mutation { exportMyData { id status url expiresAt } }"


def _export_probe() -> Run:
    async def run(world: World, role: Role, case: Case) -> Observed:
        before = await world.store_snapshot()
        result = await world.run(EXPORT, role)
        refused = refusal(result)
        if refused is not None:
            assert await world.store_snapshot() == before, "a refused mutation wrote"
            return refused
        answer = result.data["exportMyData"]
        if answer["status"] != "READY" or not answer["expiresAt"]:
            return unexpected(answer)
        with tarfile.open(fileobj=io.BytesIO(world.download(answer["url"]))) as tar:
            names = {member.name.split("/")[1] for member in tar.getmembers()[:-1]}
        owned = {
            from_global_id(world.files[case_])[1]
            for case_ in (Case.PRIVATE, Case.PUBLIC, Case.SHARED)
        }
        expected = owned if role is Role.OWNER else set()
        return Outcome.ALLOW if names == expected else unexpected(sorted(names))

    return run


DATA_EXPORT = "query($id: ID!) { dataExport(id: $id) { id status url } }"


def _data_export_probe() -> Run:
    async def run(world: World, role: Role, case: Case) -> Observed:
        starter = role if case is Case.OWN else Role.OWNER
        export_id = "0" * 32  # anonymous has none of its own: any id
        if PRINCIPALS[starter] is not None:
            export_id = (await world.run(EXPORT, starter)).data["exportMyData"]["id"]
        before = await world.store_snapshot()
        result = await world.run(DATA_EXPORT, role, {"id": export_id})
        assert await world.store_snapshot() == before, "reading an export's status wrote"
        refused = refusal(result)
        if refused is not None:
            return refused
        answer = result.data["dataExport"]
        ready = answer["id"] == export_id and answer["status"] == "READY" and answer["url"]
        return Outcome.ALLOW if ready else unexpected(answer)

    return run


NEW_UPLOAD = {"input": {"name": "new.txt", "contentType": "text/plain", "size": 3}}

PROBES: dict[tuple[str, str], Probe] = {
    ("Query.me", ""): Probe((ME,), _me),
    ("Query.user", ""): Probe((USER,), _user),
    ("Query.userByUsername", ""): Probe((USER_BY_NAME,), _user_by_username),
    ("Query.node", ""): Probe((NODE_USER, NODE_FILE), _node),
    ("Query.file", ""): Probe((FILE_NAME,), _file_name),
    ("Query.myFiles", ""): Probe((MY_FILES,), _listing_probe(MY_FILES, ("myFiles",), False)),
    ("Query.sharedWithMe", ""): Probe(
        (SHARED_WITH_ME,), _listing_probe(SHARED_WITH_ME, ("sharedWithMe",), False)
    ),
    ("Query.search", "a FILE hit"): Probe((SEARCH_FILE,), _search_file),
    ("Query.search", "a USER hit"): Probe((SEARCH_USER,), _search_user),
    ("Query.myFiles", "the after: argument"): Probe(
        (PAGE_MY_FILES,), _cursor_probe(PAGE_MY_FILES, ("myFiles",), Role.OWNER, {})
    ),
    ("Query.sharedWithMe", "the after: argument"): Probe(
        (PAGE_SHARED,), _cursor_probe(PAGE_SHARED, ("sharedWithMe",), Role.SHAREE, {})
    ),
    ("User.files", "the after: argument"): Probe(
        (PAGE_USER_FILES,),
        _cursor_probe(PAGE_USER_FILES, ("user", "files"), Role.OWNER, {"id": user_gid(OWNER)}),
    ),
    ("Query.myFiles", "the before: argument"): Probe(
        (BACK_MY_FILES,),
        _cursor_probe(BACK_MY_FILES, ("myFiles",), Role.OWNER, {}, backward=True),
    ),
    ("Query.sharedWithMe", "the before: argument"): Probe(
        (BACK_SHARED,),
        _cursor_probe(BACK_SHARED, ("sharedWithMe",), Role.SHAREE, {}, backward=True),
    ),
    ("User.files", "the before: argument"): Probe(
        (BACK_USER_FILES,),
        _cursor_probe(
            BACK_USER_FILES, ("user", "files"), Role.OWNER, {"id": user_gid(OWNER)}, backward=True
        ),
    ),
    ("Query.search", "the after: argument"): Probe(
        (PAGE_SEARCH,), _cursor_probe(PAGE_SEARCH, ("search",), Role.OWNER, {"q": "report"})
    ),
    ("PageInfo.hasNextPage", "User.files(first: 1)"): Probe(
        (FILE_NAME, PAGE_USER_FILES), _paged_one_by_one(backward=False)
    ),
    ("PageInfo.hasPreviousPage", "User.files(last: 1)"): Probe(
        (FILE_NAME, BACK_USER_FILES), _paged_one_by_one(backward=True)
    ),
    ("Mutation.createUpload", ""): Probe((CREATE,), _unchanged_probe(CREATE, NEW_UPLOAD, _created)),
    ("Mutation.completeUpload", ""): Probe(
        (COMPLETE,), _mutation_probe(COMPLETE, "completeUpload", {}, _completed)
    ),
    ("Mutation.updateFile", ""): Probe(
        (UPDATE,), _mutation_probe(UPDATE, "updateFile", {}, _renamed)
    ),
    ("Mutation.deleteFile", ""): Probe(
        (DELETE,), _mutation_probe(DELETE, "deleteFile", {}, _deleted)
    ),
    ("Mutation.shareFile", ""): Probe(
        (SHARE,), _mutation_probe(SHARE, "shareFile", {"u": OTHER.username}, _shared_with_other)
    ),
    ("Mutation.unshareFile", ""): Probe(
        (UNSHARE,),
        _mutation_probe(UNSHARE, "unshareFile", {"u": SHAREE.username}, _unshared_sharee),
    ),
    ("Mutation.updateProfile", ""): Probe(
        (UPDATE_PROFILE,), _unchanged_probe(UPDATE_PROFILE, {}, _profile_updated)
    ),
    ("Mutation.signOutEverywhere", ""): Probe((SIGN_OUT,), _sign_out_probe()),
    ("Mutation.deleteAccount", ""): Probe((DELETE_ACCOUNT,), _delete_account_probe()),
    ("Mutation.exportMyData", ""): Probe((EXPORT,), _export_probe()),
    ("Query.dataExport", ""): Probe((DATA_EXPORT,), _data_export_probe()),
    ("File (plain fields)", ""): Probe((FILE_PLAIN,), _file_plain),
    ("File.owner", ""): Probe((FILE_OWNER,), _file_owner),
    ("File.sharedWith", ""): Probe((FILE_SHARED_WITH,), _file_shared_with),
    ("File.downloadUrl", ""): Probe((FILE_DOWNLOAD,), _file_download_url),
    ("User.email", "Query.user"): Probe((USER_EMAIL,), _user_email),
    ("User.groups", "Query.user"): Probe((USER_GROUPS,), _user_groups),
    ("User.email", "Query.node"): Probe((NODE_EMAIL,), _node_email),
    ("User.email", "File.owner"): Probe((OWNER_EMAIL,), _owner_email),
    ("User.email", "a search USER hit"): Probe((SEARCH_USER,), _search_user_email),
    ("User.email", "File.sharedWith"): Probe((SHAREE_EMAIL,), _sharee_email),
    ("User.files", "the owner's profile"): Probe(
        (USER_FILES,), _listing_probe(USER_FILES, ("user", "files"), True)
    ),
}
