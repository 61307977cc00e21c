"""Subscriptions on the AWS path, end to end: the WebSocket function speaking
graphql-transport-ws through API Gateway's routes, the stream function fed from the items
table's real DynamoDB Stream, PostToConnection on moto's server (tests/support/realtime_aws.py).
Mutations go through the API function, as a client's would."""

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.realtime_aws import ONE_FILE, RealtimeAws, realtime_aws

UPLOAD = b"realtime on aws\n"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[RealtimeAws]:
    with realtime_aws(monkeypatch) as world:
        yield world


def events(messages: list[dict[str, Any]], sid: str = "s1") -> list[dict[str, Any]]:
    """The fileEvents payloads of ``next`` messages for subscription ``sid``."""
    found = []
    for message in messages:
        assert message.get("id") == sid, message
        assert message["type"] == "next", message
        found.append(message["payload"]["data"]["fileEvents"])
    return found


def kinds(messages: list[dict[str, Any]], sid: str = "s1") -> list[str]:
    return [event["kind"] for event in events(messages, sid)]


def share(
    aws: RealtimeAws, owner_token: str, file_id: str, username: str, *, undo: bool = False
) -> None:
    field = "unshareFile" if undo else "shareFile"
    answer = aws.api.ask(
        f"mutation($id: ID!, $u: String!) {{ {field}(id: $id, username: $u) {{ id }} }}",
        owner_token,
        {"id": file_id, "u": username},
    )
    assert "errors" not in answer, answer


def test_connect_requires_the_protocol_and_acknowledges_a_valid_token(aws: RealtimeAws) -> None:
    _, status = aws.sockets.connect(protocol="graphql-ws")
    assert status == 400  # the legacy subscriptions-transport-ws protocol is not spoken
    connection = aws.sockets.sign_in(aws.token("ada"))
    assert aws.sockets.registered(connection)
    aws.sockets.send(connection, {"type": "ping"})
    assert aws.sockets.received(connection) == [{"type": "pong"}]


def test_a_bad_token_closes_4403_before_anything_starts(
    aws: RealtimeAws, caplog: pytest.LogCaptureFixture
) -> None:
    connection, status = aws.sockets.connect()
    assert status == 200
    aws.sockets.send(
        connection, {"type": "connection_init", "payload": {"Authorization": "Bearer nope"}}
    )
    assert aws.sockets.received(connection) == []
    assert connection not in aws.sockets.connected  # DeleteConnection was called
    assert not aws.sockets.registered(connection)
    assert f"closing {connection} with 4403" in caplog.text
    # Subscribing on a socket that was refused changes nothing and sends nothing.
    aws.sockets.subscribe(connection, "s1")
    assert aws.sockets.received(connection) == []


def test_subscribe_before_ack_and_duplicate_ids_close(
    aws: RealtimeAws, caplog: pytest.LogCaptureFixture
) -> None:
    early, _ = aws.sockets.connect()
    aws.sockets.subscribe(early, "s1")
    assert f"closing {early} with 4401" in caplog.text
    connection = aws.sockets.sign_in(aws.token("ada"))
    aws.sockets.subscribe(connection, "s1")
    aws.sockets.subscribe(connection, "s1")
    assert f"closing {connection} with 4409" in caplog.text
    assert not aws.sockets.registered(connection)


def test_upload_reaches_the_owner_and_sharing_reaches_only_the_grantee(aws: RealtimeAws) -> None:
    ada, bob, eve = aws.token("ada"), aws.token("bob"), aws.token("eve")
    sockets = aws.sockets
    ada_c, bob_c, eve_c = sockets.sign_in(ada), sockets.sign_in(bob), sockets.sign_in(eve)
    for connection in (ada_c, bob_c, eve_c):
        sockets.subscribe(connection, "s1")
    assert [sockets.received(c) for c in (ada_c, bob_c, eve_c)] == [[], [], []]

    with aws.api.file_client("ada") as files:
        ready = files.upload("plan.txt", "text/plain", UPLOAD)
    assert aws.feed.deliver() == {"batchItemFailures": []}
    to_ada = events(sockets.received(ada_c))
    assert [e["kind"] for e in to_ada] == ["CREATED", "READY"]
    assert to_ada[1]["file"]["status"] == "READY" and to_ada[1]["file"]["downloadUrl"]
    assert to_ada[1]["fileId"] == ready["id"]

    share(aws, ada, ready["id"], "bob")
    aws.feed.deliver()
    shared = events(sockets.received(bob_c))
    assert [e["kind"] for e in shared] == ["SHARED"]
    assert shared[0]["file"]["name"] == "plan.txt"
    assert kinds(sockets.received(ada_c)) == ["SHARED"]

    share(aws, ada, ready["id"], "bob", undo=True)
    aws.feed.deliver()
    unshared = events(sockets.received(bob_c))
    assert [(e["kind"], e["file"]) for e in unshared] == [("UNSHARED", None)]
    # Nothing more about the file reaches bob; ada still hears of her own file.
    answer = aws.api.ask(
        'mutation($id: ID!) { updateFile(input: {id: $id, description: "v2"}) { id } }',
        ada,
        {"id": ready["id"]},
    )
    assert "errors" not in answer, answer
    aws.feed.deliver()
    assert sockets.received(bob_c) == []
    assert kinds(sockets.received(ada_c)) == ["UNSHARED", "UPDATED"]
    # eve, a third user, never heard a word, not even the file's id.
    assert sockets.received(eve_c) == []


def test_one_file_subscription_completes_when_the_file_becomes_unreadable(
    aws: RealtimeAws,
) -> None:
    ada, bob = aws.token("ada"), aws.token("bob")
    bob_c = aws.sockets.sign_in(bob)
    with aws.api.file_client("ada") as files:
        ready = files.upload("one.txt", "text/plain", UPLOAD)
    aws.feed.deliver()
    aws.sockets.subscribe(bob_c, "one", ONE_FILE, id=ready["id"])
    refused = aws.sockets.received(bob_c)
    assert [m["type"] for m in refused] == ["error"]  # not readable: not even subscribed
    share(aws, ada, ready["id"], "bob")
    aws.feed.deliver()
    aws.sockets.subscribe(bob_c, "one", ONE_FILE, id=ready["id"])
    share(aws, ada, ready["id"], "bob", undo=True)
    aws.feed.deliver()
    messages = aws.sockets.received(bob_c)
    assert [m["type"] for m in messages] == ["next", "complete"], messages
    assert messages[0]["payload"]["data"]["fileEvents"]["kind"] == "UNSHARED"
    share(aws, ada, ready["id"], "bob")
    aws.feed.deliver()
    assert aws.sockets.received(bob_c) == []  # the completed subscription was forgotten


def test_a_gone_connection_is_cleaned_up(aws: RealtimeAws) -> None:
    ada = aws.token("ada")
    gone, live = aws.sockets.sign_in(ada), aws.sockets.sign_in(ada)
    aws.sockets.subscribe(gone, "s1")
    aws.sockets.subscribe(live, "s1")
    aws.sockets.drop(gone)
    with aws.api.file_client("ada") as files:
        files.upload("x.txt", "text/plain", UPLOAD)
    assert aws.feed.deliver() == {"batchItemFailures": []}
    assert not aws.sockets.registered(gone)
    assert aws.sockets.registered(live)
    assert kinds(aws.sockets.received(live)) == ["CREATED", "READY"]


def test_a_record_that_cannot_be_read_is_reported_and_later_ones_wait(aws: RealtimeAws) -> None:
    ada_c = aws.sockets.sign_in(aws.token("ada"))
    aws.sockets.subscribe(ada_c, "s1")
    with aws.api.file_client("ada") as files:
        files.upload("y.txt", "text/plain", UPLOAD)
    records = aws.feed.records()
    created = next(
        r
        for r in records
        if r["eventName"] == "INSERT" and r["dynamodb"]["Keys"]["sk"]["S"] == "META"
    )
    poisoned = {**created, "dynamodb": {**created["dynamodb"], "NewImage": {"pk": {"SS": ["x"]}}}}
    index = records.index(created)
    batch = [*records[:index], poisoned, *records[index + 1 :]]
    answer = aws.feed.deliver(batch)
    sequence = created["dynamodb"]["SequenceNumber"]
    assert answer == {"batchItemFailures": [{"itemIdentifier": sequence}]}
    assert aws.sockets.received(ada_c) == []  # READY comes after it: not delivered out of order
    # Lambda retries from the failed record; the real one delivers both, in order.
    assert aws.feed.deliver(records[index:]) == {"batchItemFailures": []}
    assert kinds(aws.sockets.received(ada_c)) == ["CREATED", "READY"]


def test_limits_answer_with_the_protocol_and_change_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEMOBACKEND_SUBSCRIPTION_CONNECTIONS_PER_USER", "2")
    monkeypatch.setenv("DEMOBACKEND_SUBSCRIPTIONS_PER_CONNECTION", "2")
    monkeypatch.setenv("DEMOBACKEND_SUBSCRIPTION_MAX_MESSAGE_BYTES", "1024")
    with realtime_aws(monkeypatch) as aws:
        token = aws.token("ada")
        first, second = aws.sockets.sign_in(token), aws.sockets.sign_in(token)
        third, _ = aws.sockets.connect()
        aws.sockets.send(
            third, {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        )
        assert aws.sockets.received(third) == []  # no ack: closed (4429, in the log)
        assert third not in aws.sockets.connected and not aws.sockets.registered(third)
        aws.sockets.subscribe(first, "a")
        aws.sockets.subscribe(first, "b")
        aws.sockets.subscribe(first, "c")
        (refused,) = aws.sockets.received(first)
        assert (refused["id"], refused["type"]) == ("c", "error")
        assert "At most 2 subscriptions" in refused["payload"][0]["message"]
        query = {"id": "q", "type": "subscribe", "payload": {"query": "{ me { id } }"}}
        aws.sockets.send(second, query)
        (not_here,) = aws.sockets.received(second)
        assert not_here["payload"][0]["extensions"]["code"] == "BAD_REQUEST"
        aws.sockets.send(second, "x" * 2000)  # over 1024 bytes: closed (4400)
        assert second not in aws.sockets.connected and not aws.sockets.registered(second)
        # The first connection and its two subscriptions are untouched.
        with aws.api.file_client("ada") as files:
            files.upload("z.txt", "text/plain", UPLOAD)
        aws.feed.deliver()
        got = aws.sockets.received(first)
        assert sorted((m["id"], m["payload"]["data"]["fileEvents"]["kind"]) for m in got) == [
            ("a", "CREATED"),
            ("a", "READY"),
            ("b", "CREATED"),
            ("b", "READY"),
        ]
