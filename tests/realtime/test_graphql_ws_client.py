"""fileEvents through the npm graphql-ws client against the real server process: what a
browser app sees, from connection_ack to the protocol's close codes."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.realtime.support import (
    ALL_EVENTS,
    ONE_FILE,
    NodeSubscriber,
    User,
    graphql,
    is_event,
    is_type,
    short_lived,
    signed_in,
)
from tests.support.file_client import FileClient
from tests.support.server_process import RunningServer

SHARE = "mutation($id: ID!, $u: String!) { shareFile(id: $id, username: $u) { id } }"
UNSHARE = "mutation($id: ID!, $u: String!) { unshareFile(id: $id, username: $u) { id } }"
UPDATE = "mutation($id: ID!, $d: String) { updateFile(input: {id: $id, description: $d}) { id } }"
DELETE = "mutation($id: ID!) { deleteFile(id: $id) }"


@pytest.fixture(scope="module")
def users(server: RunningServer) -> dict[str, User]:
    return {name: signed_in(server.base_url, name) for name in ("alice", "bob", "carol")}


@pytest.fixture
def clients(server: RunningServer) -> Iterator[list[NodeSubscriber]]:
    opened: list[NodeSubscriber] = []
    yield opened
    for client in opened:
        client.close()


def connect(server: RunningServer, clients: list[NodeSubscriber], user: User) -> NodeSubscriber:
    client = NodeSubscriber(server.base_url, user.params)
    clients.append(client)
    client.wait_for(is_type("connected"))
    return client


def upload(server: RunningServer, user: User, name: str = "notes.txt") -> str:
    with FileClient.over_http(server.base_url, user.token) as files:
        return str(files.upload(name, "text/plain", b"hello realtime")["id"])


def test_an_upload_arrives_as_created_then_ready_with_a_fresh_download_url(
    server: RunningServer, users: dict[str, User], clients: list[NodeSubscriber]
) -> None:
    alice = connect(server, clients, users["alice"])
    alice.subscribe("all", ALL_EVENTS)
    alice.drain(0.3)  # the subscription is registered before the upload commits
    file_id = upload(server, users["alice"])
    alice.wait_for(is_event("all", "READY"))
    created, ready = alice.events("all")
    assert (created["kind"], created["fileId"], created["version"]) == ("CREATED", file_id, 1)
    assert created["file"]["status"] == "PENDING" and created["file"]["downloadUrl"] is None
    assert (ready["kind"], ready["version"], ready["file"]["status"]) == ("READY", 2, "READY")
    assert "/blobs/" in ready["file"]["downloadUrl"]


def test_sharing_reaches_the_grantee_until_unshared_and_never_a_third_user(
    server: RunningServer, users: dict[str, User], clients: list[NodeSubscriber]
) -> None:
    file_id = upload(server, users["alice"], "plans.txt")
    bob = connect(server, clients, users["bob"])
    carol = connect(server, clients, users["carol"])
    bob.subscribe("all", ALL_EVENTS)
    carol.subscribe("all", ALL_EVENTS)
    bob.drain(0.3)

    graphql(server.base_url, users["alice"], SHARE, id=file_id, u="bob")
    shared = bob.wait_for(is_event("all", "SHARED"))["payload"]["data"]["fileEvents"]
    assert shared["file"]["name"] == "plans.txt"
    bob.subscribe("one", ONE_FILE, id=file_id)
    bob.drain(0.3)

    graphql(server.base_url, users["alice"], UPDATE, id=file_id, d="v2")
    bob.wait_for(is_event("all", "UPDATED"))
    bob.wait_for(is_event("one", "UPDATED"))
    graphql(server.base_url, users["alice"], UNSHARE, id=file_id, u="bob")
    unshared = bob.wait_for(is_event("all", "UNSHARED"))["payload"]["data"]["fileEvents"]
    assert unshared["file"] is None and unshared["fileId"] == file_id
    bob.wait_for(is_event("one", "UNSHARED"))
    bob.wait_for(is_type("complete", "one"))  # the file became unreadable

    graphql(server.base_url, users["alice"], UPDATE, id=file_id, d="after unshare")
    assert bob.drain(0.8) == []  # nothing more about that file, not even its id
    assert [e["kind"] for e in bob.events("all")] == ["SHARED", "UPDATED", "UNSHARED"]
    assert carol.drain(0.1) == [] and carol.events("all") == []


def test_delete_is_told_with_a_null_file_and_ends_a_one_file_subscription(
    server: RunningServer, users: dict[str, User], clients: list[NodeSubscriber]
) -> None:
    file_id = upload(server, users["alice"], "old.txt")
    alice = connect(server, clients, users["alice"])
    alice.subscribe("one", ONE_FILE, id=file_id)
    alice.drain(0.3)
    graphql(server.base_url, users["alice"], DELETE, id=file_id)
    deleted = alice.wait_for(is_event("one", "DELETED"))["payload"]["data"]["fileEvents"]
    assert deleted["file"] is None and deleted["version"] == 3  # one past READY's 2
    alice.wait_for(is_type("complete", "one"))


def test_a_file_the_viewer_cannot_read_is_refused_like_a_missing_one(
    server: RunningServer, users: dict[str, User], clients: list[NodeSubscriber]
) -> None:
    file_id = upload(server, users["alice"], "private.txt")
    carol = connect(server, clients, users["carol"])
    carol.subscribe("theirs", ONE_FILE, id=file_id)
    carol.subscribe("missing", ONE_FILE, id="RmlsZTpub3RoZXJl")  # File:nothere
    theirs = carol.wait_for(is_type("error", "theirs"))["errors"]
    missing = carol.wait_for(is_type("error", "missing"))["errors"]
    assert [e["extensions"]["code"] for e in theirs] == ["NOT_FOUND"]
    assert [e["message"] for e in theirs] == [e["message"] for e in missing]


def test_a_bad_or_missing_token_closes_with_4403_before_any_subscription(
    server: RunningServer, users: dict[str, User], clients: list[NodeSubscriber]
) -> None:
    for params in ({"Authorization": "Bearer not-a-token"}, None, {"Authorization": 7}):
        client = NodeSubscriber(server.base_url, params)
        clients.append(client)
        client.subscribe("all", ALL_EVENTS)
        closed = client.wait_for(is_type("closed"))
        assert closed["code"] == 4403
        assert not [m for m in client.seen if m["type"] in ("connected", "next")]


def test_the_socket_closes_with_4403_when_the_token_expires(
    server: RunningServer, users: dict[str, User], clients: list[NodeSubscriber], data_dir: Path
) -> None:
    token = short_lived(users["alice"], data_dir, seconds=2)
    client = NodeSubscriber(server.base_url, {"Authorization": f"Bearer {token}"})
    clients.append(client)
    client.wait_for(is_type("connected"))
    client.subscribe("all", ALL_EVENTS)
    closed = client.wait_for(is_type("closed"), timeout=8)
    assert (closed["code"], closed["reason"]) == (4403, "Token expired")


def test_keep_alive_pings_reach_an_idle_client(
    server: RunningServer, users: dict[str, User], clients: list[NodeSubscriber]
) -> None:
    client = connect(server, clients, users["bob"])
    client.wait_for(is_type("ping"), timeout=3)


def test_limits_answer_with_the_protocol_and_change_nothing_else(
    server: RunningServer, users: dict[str, User], clients: list[NodeSubscriber]
) -> None:
    carol = users["carol"]
    first = connect(server, clients, carol)
    for n in range(3):
        first.subscribe(f"s{n}", ALL_EVENTS)
    first.subscribe("over", ALL_EVENTS)
    refused = first.wait_for(is_type("error", "over"))["errors"]
    assert refused[0]["message"] == "At most 3 subscriptions per connection"
    # Connections per user: the first holds one slot; two more fit, the fourth does not.
    connect(server, clients, carol)
    connect(server, clients, carol)
    fourth = NodeSubscriber(server.base_url, carol.params)
    clients.append(fourth)
    assert fourth.wait_for(is_type("closed"))["code"] == 4429
    # The first connection's subscriptions still deliver.
    graphql(server.base_url, carol, 'mutation { updateProfile(displayName: "C") { id } }')
    file_id = upload(server, carol, "still.txt")
    first.wait_for(is_event("s0", "READY"))
    assert {e["fileId"] for e in first.events("s2")} == {file_id}
