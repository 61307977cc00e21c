"""A file's life through the schema: createUpload, the bytes, completeUpload, downloadUrl,
updateFile (with optimistic concurrency) and deleteFile."""

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import pytest

from domain.files import FileRepository, blob_key_for
from domain.ids import from_global_id, to_global_id
from tests.support.schema_client import (
    ALICE,
    COMPLETE_UPLOAD,
    CREATE_UPLOAD,
    FIXED_NOW,
    GraphQLResult,
    SchemaClient,
)
from tests.support.stores import InterleavingItemStore

DATA = b"%PDF-1.7 pretend\n"
# Where a download URL points: the fake store, or S3 on moto's server on loopback.
DOWNLOAD_PREFIX = {"local": "memory://download/", "aws": "http://127.0.0.1:"}
FILE_QUERY = "query($id: ID!) { file(id: $id) { status version sha256 downloadUrl } }"
MY_FILES = "{ myFiles { edges { node { id name status } } } }"
UPDATE = """
mutation($input: UpdateFileInput!) {
  updateFile(input: $input) { name description tags visibility version updatedAt }
}"""
DELETE = "mutation($id: ID!, $v: Int) { deleteFile(id: $id, expectedVersion: $v) }"


def local_id(global_id: str) -> str:
    type_name, file_id = from_global_id(global_id)
    assert type_name == "File"
    return file_id


async def my_file_names(client: SchemaClient) -> list[str]:
    result = await client.execute(MY_FILES, ALICE)
    assert result.errors == []
    return [edge["node"]["name"] for edge in result.data["myFiles"]["edges"]]


async def complete(client: SchemaClient, file_id: str) -> GraphQLResult:
    return await client.execute(COMPLETE_UPLOAD, ALICE, {"id": file_id})


@pytest.fixture
async def alice_client(client: SchemaClient) -> SchemaClient:
    await client.sign_in(ALICE)
    return client


async def test_upload_lifecycle_from_declaration_to_download(alice_client: SchemaClient) -> None:
    client = alice_client
    digest = hashlib.sha256(DATA).hexdigest()
    payload = await client.create_upload(
        ALICE,
        DATA,
        name="report.pdf",
        contentType="application/pdf",
        sha256=digest.upper(),
        description="Q3",
        tags=["Tax 2024", " tax  2024", "work"],
    )
    file, upload = payload["file"], payload["upload"]
    assert file["status"] == "PENDING"
    assert file["downloadUrl"] is None
    assert file["size"] == len(DATA)
    assert file["sha256"] == digest
    assert file["tags"] == ["tax 2024", "work"]
    assert file["visibility"] == "PRIVATE"
    assert file["version"] == 1
    assert file["owner"] == {"username": "alice"}
    key = blob_key_for(local_id(file["id"]))
    if client.backend == "local":  # a PUT to the fake store, signed on the fake clock
        assert upload["method"] == "PUT"
        assert upload["url"].startswith(f"memory://upload/{key}?")
        assert upload["fields"] == {}
        assert upload["headers"]["Content-Type"] == "application/pdf"
        assert "x-amz-checksum-sha256" in upload["headers"]
        assert upload["expiresAt"] == (FIXED_NOW + timedelta(seconds=900)).isoformat()
    else:  # S3's POST form: the policy pins the key, type and checksum (signed on real time)
        assert upload["method"] == "POST"
        assert upload["headers"] == {}
        assert upload["fields"]["key"] == key
        assert upload["fields"]["Content-Type"] == "application/pdf"
        assert "x-amz-checksum-sha256" in upload["fields"]
    assert await my_file_names(client) == ["report.pdf"]

    client.send_bytes(upload, DATA)
    completed = await complete(client, file["id"])
    assert completed.errors == []
    ready = completed.data["completeUpload"]
    assert (ready["status"], ready["version"]) == ("READY", 2)

    again = await complete(client, file["id"])
    assert again.errors == []
    # Idempotent: the same file, no new version (only the fresh download URL differs).
    assert {**again.data["completeUpload"], "downloadUrl": None} == {**ready, "downloadUrl": None}
    assert ready["downloadUrl"] is not None

    url = (await client.execute(FILE_QUERY, ALICE, {"id": file["id"]})).data["file"]["downloadUrl"]
    data, disposition = client.download(url)
    assert data == DATA
    assert "report.pdf" in disposition


async def test_download_url_expiry_is_1_to_3600_seconds(alice_client: SchemaClient) -> None:
    file = await alice_client.upload(ALICE, DATA)
    query = "query($id: ID!, $s: Int) { file(id: $id) { downloadUrl(expiresIn: $s) } }"
    for seconds in (1, 3600):
        ok = await alice_client.execute(query, ALICE, {"id": file["id"], "s": seconds})
        assert ok.errors == []
        assert ok.data["file"]["downloadUrl"].startswith(DOWNLOAD_PREFIX[alice_client.backend])
    for seconds in (0, -5, 3601):
        bad = await alice_client.execute(query, ALICE, {"id": file["id"], "s": seconds})
        assert bad.codes == ["BAD_USER_INPUT"], seconds
        assert bad.data == {"file": {"downloadUrl": None}}


BAD_DECLARATIONS: list[dict[str, Any]] = [
    {"name": ""},
    {"name": "a/b.txt"},
    {"name": "a\\b.txt"},
    {"name": "nul\x00.txt"},
    {"name": "x" * 256},
    {"contentType": "text"},
    {"contentType": "text/plain; charset=utf-8"},
    {"size": 0},
    {"size": -1},
    {"size": 10 * 1024 * 1024 + 1},
    {"sha256": "abc"},
    {"tags": [f"t{i}" for i in range(21)]},
    {"tags": ["x" * 51]},
    {"description": "d" * 2001},
    {"visibility": None},
    # The Long scalar refuses what is not a whole number.
    {"size": 5.5},
    {"size": True},
    {"size": "five"},
    {"size": 2**63},
]


@pytest.mark.parametrize("bad", BAD_DECLARATIONS, ids=repr)
async def test_invalid_declarations_are_bad_input_and_write_nothing(
    alice_client: SchemaClient, bad: dict[str, Any]
) -> None:
    fields = {"name": "notes.txt", "contentType": "text/plain", "size": 5} | bad
    result = await alice_client.execute(CREATE_UPLOAD, ALICE, {"input": fields})
    assert result.codes == ["BAD_USER_INPUT"]
    assert result.data is None
    assert await my_file_names(alice_client) == []
    assert not any(pk.startswith("FILE#") for pk, _ in await alice_client.items_now())


async def test_long_accepts_decimal_text_and_literals(alice_client: SchemaClient) -> None:
    as_text = await alice_client.create_upload(ALICE, size="5")
    assert as_text["file"]["size"] == 5
    literal = await alice_client.execute(
        'mutation { createUpload(input: {name: "a.txt", contentType: "text/plain", size: 7})'
        " { file { size } } }",
        ALICE,
    )
    assert literal.data == {"createUpload": {"file": {"size": 7}}}
    float_literal = await alice_client.execute(
        'mutation { createUpload(input: {name: "a.txt", contentType: "text/plain", size: 7.0})'
        " { file { size } } }",
        ALICE,
    )
    assert float_literal.codes == ["BAD_USER_INPUT"]


async def test_quota_counts_pending_uploads_and_refuses_more(alice_client: SchemaClient) -> None:
    ten_mib = 10 * 1024 * 1024
    for _ in range(5):  # the functional client's quota is 50 MiB
        await alice_client.create_upload(ALICE, size=ten_mib)
    over = await alice_client.execute(
        CREATE_UPLOAD,
        ALICE,
        {"input": {"name": "one-more.bin", "contentType": "text/plain", "size": 1}},
    )
    assert over.codes == ["BAD_USER_INPUT"]
    assert "quota" in over.errors[0]["message"]
    assert len(await my_file_names(alice_client)) == 5


async def test_complete_without_bytes_is_refused_and_stays_pending(
    alice_client: SchemaClient,
) -> None:
    file = (await alice_client.create_upload(ALICE, DATA))["file"]
    result = await complete(alice_client, file["id"])
    assert result.codes == ["BAD_USER_INPUT"]
    assert result.data is None
    seen = await alice_client.execute(FILE_QUERY, ALICE, {"id": file["id"]})
    assert seen.data["file"] == {
        "status": "PENDING",
        "version": 1,
        "sha256": None,
        "downloadUrl": None,
    }


@pytest.mark.local_only("plants wrong bytes through the fake store, past its checks")
@pytest.mark.parametrize(
    ("stored", "content_type"),
    [(DATA + b"!", "text/plain"), (DATA.upper(), "text/plain"), (DATA, "text/html")],
    ids=["size", "sha256", "content type"],
)
async def test_complete_with_mismatching_bytes_is_refused_and_stays_pending(
    alice_client: SchemaClient, stored: bytes, content_type: str
) -> None:
    file = (await alice_client.create_upload(ALICE, DATA, sha256=hashlib.sha256(DATA).hexdigest()))[
        "file"
    ]
    key = blob_key_for(local_id(file["id"]))
    alice_client.blobs.put_object(key, stored, content_type)  # bypassing the store's checks

    result = await complete(alice_client, file["id"])
    assert result.codes == ["BAD_USER_INPUT"]
    assert "do not match" in result.errors[0]["message"]
    seen = await alice_client.execute(FILE_QUERY, ALICE, {"id": file["id"]})
    assert seen.data["file"]["status"] == "PENDING"
    assert key not in alice_client.blobs.objects  # so the client can upload again


async def test_update_changes_fields_and_bumps_the_version(alice_client: SchemaClient) -> None:
    file = await alice_client.upload(ALICE, DATA, description="old", tags=["a"])
    alice_client.clock.advance(60)
    changes = {"name": "new.txt", "tags": ["B", "c"], "visibility": "PUBLIC"}
    result = await alice_client.execute(
        UPDATE, ALICE, {"input": {"id": file["id"], "expectedVersion": 2} | changes}
    )
    assert result.errors == []
    assert result.data["updateFile"] == {
        "name": "new.txt",
        "description": "old",  # omitted: unchanged
        "tags": ["b", "c"],
        "visibility": "PUBLIC",
        "version": 3,
        "updatedAt": alice_client.clock().isoformat(),
    }
    cleared = await alice_client.execute(
        UPDATE, ALICE, {"input": {"id": file["id"], "description": None, "tags": None}}
    )
    assert cleared.data["updateFile"]["description"] is None
    assert cleared.data["updateFile"]["tags"] == []
    assert cleared.data["updateFile"]["name"] == "new.txt"


async def test_update_with_a_stale_version_conflicts_and_changes_nothing(
    alice_client: SchemaClient,
) -> None:
    file = await alice_client.upload(ALICE, DATA)
    stale = await alice_client.execute(
        UPDATE, ALICE, {"input": {"id": file["id"], "expectedVersion": 1, "name": "x.txt"}}
    )
    assert stale.codes == ["CONFLICT"]
    assert stale.data is None
    assert await my_file_names(alice_client) == ["notes.txt"]


async def test_update_with_invalid_input_changes_nothing(alice_client: SchemaClient) -> None:
    file = await alice_client.upload(ALICE, DATA)
    for bad in ({"name": "a/b"}, {"tags": ["x" * 51]}, {"visibility": "SECRET"}):
        result = await alice_client.execute(UPDATE, ALICE, {"input": {"id": file["id"]} | bad})
        assert result.codes == ["BAD_USER_INPUT"], bad
    seen = await alice_client.execute(FILE_QUERY, ALICE, {"id": file["id"]})
    assert seen.data["file"]["version"] == 2


async def test_concurrent_updates_of_one_version_exactly_one_wins() -> None:
    client = SchemaClient(wrap_store=InterleavingItemStore)
    await client.sign_in(ALICE)
    file = await client.upload(ALICE, DATA)

    def rename(name: str) -> Any:
        variables = {"input": {"id": file["id"], "expectedVersion": 2, "name": name}}
        return client.execute(UPDATE, ALICE, variables)

    first, second = await asyncio.gather(rename("first.txt"), rename("second.txt"))
    outcomes = sorted([first.codes, second.codes])
    assert outcomes == [[], ["CONFLICT"]]
    winner = first if first.errors == [] else second
    assert winner.data["updateFile"]["version"] == 3
    assert await my_file_names(client) == [winner.data["updateFile"]["name"]]


async def test_concurrent_updates_without_a_version_lose_nothing() -> None:
    client = SchemaClient(wrap_store=InterleavingItemStore)
    await client.sign_in(ALICE)
    file = await client.upload(ALICE, DATA)
    results = await asyncio.gather(
        client.execute(UPDATE, ALICE, {"input": {"id": file["id"], "name": "renamed.txt"}}),
        client.execute(UPDATE, ALICE, {"input": {"id": file["id"], "description": "both"}}),
    )
    assert [result.errors for result in results] == [[], []]
    seen = await client.execute(
        "query($id: ID!) { file(id: $id) { name description version } }", ALICE, {"id": file["id"]}
    )
    assert seen.data["file"] == {"name": "renamed.txt", "description": "both", "version": 4}


async def test_many_parallel_uploads_of_one_user_all_complete() -> None:
    """Every upload adds to the user's one usage item (quota); the store adds atomically,
    so a burst of 32 interleaved uploads all complete, none refused as "busy"."""
    client = SchemaClient(wrap_store=InterleavingItemStore)
    await client.sign_in(ALICE)
    created = await asyncio.gather(*(client.create_upload(ALICE, DATA) for _ in range(32)))
    for payload in created:
        client.send_bytes(payload["upload"], DATA)
    results = await asyncio.gather(
        *(
            client.execute(COMPLETE_UPLOAD, ALICE, {"id": payload["file"]["id"]})
            for payload in created
        )
    )
    assert [result.errors for result in results] == [[]] * 32
    assert {result.data["completeUpload"]["status"] for result in results} == {"READY"}
    # The quota counted every file once: none lost, none counted twice.
    usage = await FileRepository(client.store, client.clock).usage(ALICE.user_id)
    assert usage.used_bytes == 32 * len(DATA)


async def test_delete_removes_the_file_and_its_bytes(alice_client: SchemaClient) -> None:
    file = await alice_client.upload(ALICE, DATA)
    # The only bytes left are the READY file's, at its ready key.
    [key] = alice_client.blob_keys()
    assert key.startswith(f"files/{local_id(file['id'])}/ready-")

    stale = await alice_client.execute(DELETE, ALICE, {"id": file["id"], "v": 1})
    assert stale.codes == ["CONFLICT"]
    assert key in alice_client.blob_keys()

    deleted = await alice_client.execute(DELETE, ALICE, {"id": file["id"], "v": 2})
    assert deleted.errors == []
    assert deleted.data == {"deleteFile": file["id"]}
    assert (await alice_client.execute(FILE_QUERY, ALICE, {"id": file["id"]})).data == {
        "file": None
    }
    assert key not in alice_client.blob_keys()
    assert await my_file_names(alice_client) == []
    again = await alice_client.execute(DELETE, ALICE, {"id": file["id"]})
    assert again.codes == ["NOT_FOUND"]


async def test_mutations_in_one_request_apply_in_order(alice_client: SchemaClient) -> None:
    file = await alice_client.upload(ALICE, DATA)
    result = await alice_client.execute(
        """mutation($id: ID!) {
             renamed: updateFile(input: {id: $id, name: "one.txt", expectedVersion: 2}) { version }
             gone: deleteFile(id: $id, expectedVersion: 3)
           }""",
        ALICE,
        {"id": file["id"]},
    )
    assert result.errors == []
    assert result.data == {"renamed": {"version": 3}, "gone": file["id"]}
    after = await alice_client.execute(
        "query($id: ID!) { file(id: $id) { id } node(id: $id) { id } }", ALICE, {"id": file["id"]}
    )
    assert after.data == {"file": None, "node": None}


async def test_mutations_need_a_signed_in_user(client: SchemaClient) -> None:
    missing = to_global_id("File", "nothing")
    cases: list[tuple[str, dict[str, Any]]] = [
        (CREATE_UPLOAD, {"input": {"name": "a.txt", "contentType": "text/plain", "size": 1}}),
        (COMPLETE_UPLOAD, {"id": missing}),
        (UPDATE, {"input": {"id": missing, "name": "b.txt"}}),
        (DELETE, {"id": missing}),
        ('mutation($id: ID!) { shareFile(id: $id, username: "bob") { id } }', {"id": missing}),
        ('mutation($id: ID!) { unshareFile(id: $id, username: "bob") { id } }', {"id": missing}),
    ]
    for mutation, variables in cases:
        result = await client.execute(mutation, None, variables)
        assert result.codes == ["UNAUTHENTICATED"], mutation
        assert result.data is None
