"""Apollo Client's GraphQLWsLink (npm @apollo/client, pinned in clients/package-lock.json)
against the real server process: a smoke test that the client most apps use subscribes,
receives events through its cache, and unsubscribes."""

from collections.abc import Iterator

import pytest

from tests.realtime.support import ALL_EVENTS, NodeSubscriber, User, is_event, is_type, signed_in
from tests.support.file_client import FileClient
from tests.support.server_process import RunningServer


@pytest.fixture
def apollo(server: RunningServer) -> Iterator[dict[str, NodeSubscriber]]:
    opened: dict[str, NodeSubscriber] = {}
    yield opened
    for client in opened.values():
        client.close()


def connect(server: RunningServer, user: User) -> NodeSubscriber:
    client = NodeSubscriber(server.base_url, user.params, script="apollo.mjs")
    client.wait_for(is_type("connected"))
    return client


def test_apollo_client_subscribes_through_graphql_ws_link(
    server: RunningServer, apollo: dict[str, NodeSubscriber]
) -> None:
    owner, other = signed_in(server.base_url, "apollo1"), signed_in(server.base_url, "apollo2")
    apollo["owner"] = connect(server, owner)
    apollo["other"] = connect(server, other)
    for client in apollo.values():
        client.subscribe("files", ALL_EVENTS)
        client.drain(0.3)
    with FileClient.over_http(server.base_url, owner.token) as files:
        file_id = files.upload("apollo.txt", "text/plain", b"via apollo")["id"]
    apollo["owner"].wait_for(is_event("files", "CREATED"))
    ready = apollo["owner"].wait_for(is_event("files", "READY"))
    event = ready["payload"]["data"]["fileEvents"]
    # Apollo's cache added the type names it normalises by: the result went through it.
    assert event["__typename"] == "FileEvent"
    assert event["file"]["__typename"] == "File"
    assert (event["fileId"], event["file"]["name"]) == (file_id, "apollo.txt")
    assert event["file"]["downloadUrl"]
    assert apollo["other"].drain(0.5) == []  # another user's client hears nothing
    apollo["owner"].unsubscribe("files")
    apollo["owner"].drain(0.3)
    with FileClient.over_http(server.base_url, owner.token) as files:
        files.upload("later.txt", "text/plain", b"after unsubscribe")
    assert apollo["owner"].drain(0.8) == []
