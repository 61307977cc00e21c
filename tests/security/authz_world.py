"""The data every GraphQL cell of the authorization matrix runs against: four users and the
owner's four files (tests/security/authorization_table.py names them), made through the
API the way a client makes them. Built once; before every case the stores are put back to
exactly that state, so a change made in one case is never seen by another."""

import copy
from dataclasses import dataclass
from typing import Any

from domain.ids import to_global_id
from domain.models import Principal
from tests.security.authorization_table import FILE_CASES, Case, Role
from tests.support.schema_client import GraphQLResult, SchemaClient

OWNER = Principal(
    user_id="u-olivia", username="olivia", email="olivia@example.com", groups=("staff",)
)
OTHER = Principal(user_id="u-oscar", username="oscar", email="oscar@example.com")
SHAREE = Principal(user_id="u-sam", username="sam", email="sam@example.com")
ADMIN = Principal(user_id="u-ada", username="ada", email="ada@example.com", groups=("admin",))
PRINCIPALS: dict[Role, Principal | None] = {
    Role.ANONYMOUS: None,
    Role.OWNER: OWNER,
    Role.OTHER: OTHER,
    Role.SHAREE: SHAREE,
    Role.ADMIN: ADMIN,
}

# One word per file, found in its name only; DESCRIPTION is in every file's description.
TERMS = {
    Case.PRIVATE: "alpha",
    Case.PUBLIC: "bravo",
    Case.SHARED: "charlie",
    Case.PENDING: "delta",
}
DESCRIPTION = "quarterly report"
# Well-formed, names no file: what every unreadable file must look like.
MISSING_FILE = to_global_id("File", "0123456789abcdef0123456789abcdef")

PLAIN_FIELDS = (
    "id name contentType size sha256 status visibility description tags version createdAt updatedAt"
)
FULL_FILE = f"{PLAIN_FIELDS} owner {{ id username }} sharedWith {{ id username }}"
READ_FULL = f"query($id: ID!) {{ file(id: $id) {{ {FULL_FILE} }} }}"
SHARE = "mutation($id: ID!, $u: String!) { shareFile(id: $id, username: $u) { id } }"
PROFILE = "{ me { id username displayName createdAt email groups } }"


def user_gid(principal: Principal) -> str:
    return to_global_id("User", principal.user_id)


@dataclass
class World:
    client: SchemaClient
    files: dict[Case, str]  # global ids
    contents: dict[Case, bytes]
    # The owner's own view of each file and of their profile, taken when the world was made.
    reference: dict[Case, dict[str, Any]]
    profile: dict[str, Any]
    _pristine: tuple[Any, ...] = ()

    async def run(
        self, document: str, role: Role, variables: dict[str, Any] | None = None
    ) -> GraphQLResult:
        return await self.client.execute(document, PRINCIPALS[role], variables or {})

    async def owner_view(self, case: Case) -> dict[str, Any] | None:
        """The file as its owner reads it now (None once deleted)."""
        result = await self.run(READ_FULL, Role.OWNER, {"id": self.files[case]})
        assert result.errors == [], result.errors
        view: dict[str, Any] | None = result.data["file"]
        return view

    def store_snapshot(self) -> dict[Any, Any]:
        return copy.deepcopy(self.client.store.items)

    def keep_as_pristine(self) -> None:
        """Remember the stores' contents as they are now, for ``restore``."""
        self._pristine = (
            copy.deepcopy(self.client.store.items),
            copy.deepcopy(self.client.blobs.objects),
            set(self.client.blobs.confirmed),
            self.client.clock.now,
        )

    def restore(self) -> "World":
        """Back to the data as built, whatever the last case changed: every case starts
        from the same fresh data. (Cheaper than building the schema and services anew;
        nothing else in the client outlives a request: loaders are per request.)"""
        items, objects, confirmed, now = copy.deepcopy(self._pristine)
        # Refilled in place: the services SchemaClient built hold these very containers.
        self.client.store.items.clear()
        self.client.store.items.update(items)
        self.client.blobs.objects.clear()
        self.client.blobs.objects.update(objects)
        self.client.blobs.confirmed.clear()
        self.client.blobs.confirmed.update(confirmed)
        self.client.clock.now = now
        self.client.identity.signed_out.clear()
        self.client.identity.deleted.clear()
        return self


async def build_world() -> World:
    client = SchemaClient()
    for principal in (OWNER, OTHER, SHAREE, ADMIN):
        await client.sign_in(principal)
    files: dict[Case, str] = {}
    contents: dict[Case, bytes] = {}
    for case in FILE_CASES:
        content = f"the bytes of {TERMS[case]}".encode()
        declared: dict[str, Any] = {"name": f"{TERMS[case]}.txt", "description": DESCRIPTION}
        if case is Case.PUBLIC:
            declared["visibility"] = "PUBLIC"
        if case is Case.PENDING:
            client.clock.advance(1)
            payload = await client.create_upload(OWNER, content, **declared)
            client.send_bytes(payload["upload"], content)  # sent, never completed
            file = payload["file"]
        else:
            file = await client.upload(OWNER, content, **declared)
        files[case], contents[case] = file["id"], content
        if case is not Case.PRIVATE:
            shared = await client.execute(SHARE, OWNER, {"id": file["id"], "u": SHAREE.username})
            assert shared.errors == [], shared.errors
    world = World(client, files, contents, reference={}, profile={})
    for case in FILE_CASES:
        view = await world.owner_view(case)
        assert view is not None
        world.reference[case] = view
    profile = await world.run(PROFILE, Role.OWNER)
    assert profile.errors == [], profile.errors
    world.profile = profile.data["me"]
    _check(world)
    world.keep_as_pristine()
    return world


def _check(world: World) -> None:
    """The world is what the table says it is: otherwise every cell would test nothing."""
    for case, view in world.reference.items():
        assert view["name"] == f"{TERMS[case]}.txt"
        assert view["status"] == ("PENDING" if case is Case.PENDING else "READY")
        assert view["visibility"] == ("PUBLIC" if case is Case.PUBLIC else "PRIVATE")
        shared = [] if case is Case.PRIVATE else [{"id": user_gid(SHAREE), "username": "sam"}]
        assert view["sharedWith"] == shared
    assert world.profile["email"] == OWNER.email
    assert world.profile["groups"] == list(OWNER.groups)
