"""The data every GraphQL cell of the authorization matrix runs against: four users and the
owner's four files (tests/security/authorization_table.py names them), made through the
API the way a client makes them, on the in-memory stores or on DynamoDB + S3 (moto's server
over HTTP). Built once; before every case the stores are put back to exactly that state, so
a change made in one case is never seen by another."""

import copy
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from domain.ids import to_global_id
from domain.models import Principal
from domain.ports import Item, ItemStore, Key, Page, WriteOp
from tests.security.authorization_table import FILE_CASES, Case, Role
from tests.support.aws_stores import AwsStores, Checkpoint
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


class WriteWatch:
    """The services' item store, noting whether anything wrote since the last restore: a
    case that only read needs no restore (on DynamoDB a restore is a scan and a listing)."""

    def __init__(self, inner: ItemStore) -> None:
        self._inner = inner
        self.wrote = False

    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        return await self._inner.get_many(keys)

    async def query(self, partition: str, **options: Any) -> Page:
        return await self._inner.query(partition, **options)

    async def write(self, ops: Sequence[WriteOp]) -> None:
        self.wrote = True
        await self._inner.write(ops)

    async def scan(self, *, page_size: int = 500) -> AsyncIterator[list[Item]]:
        async for page in self._inner.scan(page_size=page_size):
            yield page

    async def ping(self) -> None:
        await self._inner.ping()


@dataclass
class World:
    client: SchemaClient
    files: dict[Case, str]  # global ids
    contents: dict[Case, bytes]
    # The owner's own view of each file and of their profile, taken when the world was made.
    reference: dict[Case, dict[str, Any]]
    profile: dict[str, Any]
    watch: WriteWatch | None = None
    _pristine: tuple[Any, ...] = ()
    _checkpoint: Checkpoint | None = None  # on DynamoDB + S3

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

    async def store_snapshot(self) -> dict[tuple[str, str], Item]:
        """Every stored item, read from the store itself (a scan on DynamoDB)."""
        return await self.client.items_now()

    def download(self, url: str) -> bytes:
        """The bytes a download URL serves, fetched as a browser would."""
        return self.client.download(url)[0]

    async def keep_as_pristine(self) -> None:
        """Remember the stores' contents as they are now, for ``restore``."""
        if self.client.aws is None:
            self._pristine = (
                self.client.clock.now,
                copy.deepcopy(self.client.store.items),
                copy.deepcopy(self.client.blobs.objects),
                set(self.client.blobs.confirmed),
            )
        else:
            self._pristine = (self.client.clock.now,)
            aws = self.client.aws
            self._checkpoint = await Checkpoint(aws.items, aws.s3, aws.bucket).take()
        if self.watch is not None:
            self.watch.wrote = False

    async def restore(self) -> "World":
        """Back to the data as built, whatever the last case changed: every case starts
        from the same fresh data. (Cheaper than building the schema and services anew;
        nothing else in the client outlives a request: loaders are per request.)"""
        self.client.clock.now = self._pristine[0]
        self.client.identity.signed_out.clear()
        self.client.identity.deleted.clear()
        if self.client.aws is None:
            items, objects, confirmed = copy.deepcopy(self._pristine[1:])
            # Refilled in place: the services SchemaClient built hold these very containers.
            self.client.store.items.clear()
            self.client.store.items.update(items)
            self.client.blobs.objects.clear()
            self.client.blobs.objects.update(objects)
            self.client.blobs.confirmed.clear()
            self.client.blobs.confirmed.update(confirmed)
            return self
        assert self.watch is not None and self._checkpoint is not None
        if self.watch.wrote:
            await self._checkpoint.restore()
            self.watch.wrote = False
        return self


async def build_world(aws: AwsStores | None = None) -> World:
    watch: WriteWatch | None = None

    def watched(store: ItemStore) -> ItemStore:
        nonlocal watch
        watch = WriteWatch(store)
        return watch

    client = SchemaClient(wrap_store=watched, aws=aws)
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
    world = World(client, files, contents, reference={}, profile={}, watch=watch)
    for case in FILE_CASES:
        view = await world.owner_view(case)
        assert view is not None
        world.reference[case] = view
    profile = await world.run(PROFILE, Role.OWNER)
    assert profile.errors == [], profile.errors
    world.profile = profile.data["me"]
    _check(world)
    await world.keep_as_pristine()
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
