"""What only the DynamoDB adapter promises: bounded retries with jittered backoff, batched
and concurrent reads, exact error translation, a free event loop, and a table definition
that matches domain.ports. Faults are scripted with botocore's Stubber or a fake client;
behaviour against a table uses moto in-process."""

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, cast

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.stub import Stubber
from moto import mock_aws
from mypy_boto3_dynamodb import DynamoDBClient

from adapters.items.cursors import encode_cursor
from adapters.items.dynamodb.store import DynamoDbItemStore
from adapters.items.memory import InMemoryItemStore
from domain.errors import ConflictError, InvalidInputError, StoreUnavailableError
from domain.ports import INDEXES, Absent, Add, Item, ItemStore, Key, Put, VersionIs, index_keys
from ops.aws_resources import (
    create_bucket,
    create_table,
    create_user_pool,
    resources,
    table_drift,
)
from tests.support.moto_server import cognito_client, dynamodb_client, s3_client
from tests.support.stores import put_all

TABLE = "items-table-name"
BASE_DELAY = 0.1
MAX_DELAY = 0.5


def item(pk: str, sk: str, **attributes: Any) -> Item:
    return {"pk": pk, "sk": sk, **attributes}


def wire(pk: str, sk: str, **strings: str) -> dict[str, Any]:
    """An item as DynamoDB sends it."""
    return {name: {"S": value} for name, value in {"pk": pk, "sk": sk, **strings}.items()}


def wire_key(pk: str, sk: str) -> dict[str, Any]:
    return wire(pk, sk)


class Sleeps:
    """A fake asyncio.sleep that records the delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make_store(client: Any, sleeps: Sleeps, **options: Any) -> DynamoDbItemStore:
    """A store whose backoff is recorded, not slept, with random() fixed at 0.5."""
    options = {"max_retries": 4, "random": lambda: 0.5, **options}
    return DynamoDbItemStore(
        cast(DynamoDBClient, client),
        TABLE,
        base_delay=BASE_DELAY,
        max_delay=MAX_DELAY,
        sleep=sleeps,
        **options,
    )


class ScriptedClient:
    """Stands in for a boto3 client: every method call goes to ``answer(name, kwargs)``
    on the calling (worker) thread, after ``delay`` seconds of blocking sleep."""

    def __init__(self, answer: Callable[[str, dict[str, Any]], Any], delay: float = 0.0):
        self.answer = answer
        self.delay = delay
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def call(**kwargs: Any) -> Any:
            self.calls.append(name)
            time.sleep(self.delay)
            return self.answer(name, kwargs)

        return call


def client_error(code: str) -> ClientError:
    message = f"{code}: arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE} said no"
    return ClientError({"Error": {"Code": code, "Message": message}}, "Operation")


async def drain(items: AsyncIterator[list[Item]]) -> list[list[Item]]:
    return [page async for page in items]


# Every ItemStore method, with the smallest call that reaches DynamoDB.
CALLS: dict[str, Callable[[ItemStore], Coroutine[Any, Any, Any]]] = {
    "get_many": lambda store: store.get_many([Key("A", "1")]),
    "query": lambda store: store.query("A"),
    "query-index": lambda store: store.query("G", index="gsi1"),
    "write": lambda store: store.write([Put(item("A", "1"))]),
    "scan": lambda store: drain(store.scan()),
    "ping": lambda store: store.ping(),
}

EMPTY_ANSWERS: dict[str, Any] = {
    "batch_get_item": {"Responses": {TABLE: []}, "UnprocessedKeys": {}},
    "query": {"Items": []},
    "transact_write_items": {},
    "scan": {"Items": []},
    "get_item": {},
}


@pytest.fixture
def stubbed() -> Iterator[tuple[DynamoDBClient, Stubber]]:
    client = dynamodb_client()  # no endpoint, and the Stubber answers before any HTTP
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()
    client.close()


@pytest.fixture
def moto_client() -> Iterator[DynamoDBClient]:
    with mock_aws():
        client = dynamodb_client()
        create_table(client, TABLE)
        yield client
        client.close()


# --- get_many: batching, UnprocessedKeys, concurrency --------------------------------------


async def test_unprocessed_keys_are_retried_until_every_item_is_read(stubbed) -> None:
    client, stubber = stubbed
    sleeps = Sleeps()
    keys = [Key("A", "1"), Key("A", "2"), Key("A", "3")]

    def request(*pairs: tuple[str, str]) -> dict[str, Any]:
        keys = [wire_key(*pair) for pair in pairs]
        return {"RequestItems": {TABLE: {"Keys": keys, "ConsistentRead": True}}}

    def answer(found: list[tuple[str, str]], left: list[tuple[str, str]]) -> dict[str, Any]:
        unprocessed = {TABLE: {"Keys": [wire_key(*pair) for pair in left]}} if left else {}
        return {
            "Responses": {TABLE: [wire(pk, sk, n=f"{pk}{sk}") for pk, sk in found]},
            "UnprocessedKeys": unprocessed,
        }

    everything = [("A", "1"), ("A", "2"), ("A", "3")]
    stubber.add_response(
        "batch_get_item", answer([("A", "3")], [("A", "1"), ("A", "2")]), request(*everything)
    )
    stubber.add_response(
        "batch_get_item", answer([("A", "1")], [("A", "2")]), request(("A", "1"), ("A", "2"))
    )
    stubber.add_response("batch_get_item", answer([("A", "2")], []), request(("A", "2")))

    found = await make_store(client, sleeps).get_many(keys)

    assert found == [item("A", "1", n="A1"), item("A", "2", n="A2"), item("A", "3", n="A3")]
    assert sleeps.delays == [0.5 * BASE_DELAY, 0.5 * BASE_DELAY * 2]


async def test_unprocessed_keys_forever_fail_after_the_bound_with_capped_full_jitter() -> None:
    unprocessed = {"Responses": {}, "UnprocessedKeys": {TABLE: {"Keys": [wire_key("A", "1")]}}}
    client = ScriptedClient(lambda name, kwargs: unprocessed)
    sleeps = Sleeps()
    draws = iter([1.0, 0.25, 0.5, 0.75, 1.0])
    store = make_store(client, sleeps, max_retries=5, random=lambda: next(draws))

    with pytest.raises(StoreUnavailableError) as caught:
        await store.get_many([Key("A", "1")])

    assert client.calls == ["batch_get_item"] * 6
    # random() * min(max_delay, base * 2**n): caps 0.1, 0.2, 0.4, then 0.5 (not 0.8, 1.6).
    assert sleeps.delays == pytest.approx([1.0 * 0.1, 0.25 * 0.2, 0.5 * 0.4, 0.75 * 0.5, 1.0 * 0.5])
    assert "read" in str(caught.value) and TABLE not in str(caught.value)


async def test_many_keys_are_read_in_concurrent_chunks_of_at_most_100(moto_client) -> None:
    stored = [item(f"P{i % 7}", f"S{i:04}", n=i) for i in range(250)]
    await put_all(DynamoDbItemStore(moto_client, TABLE), stored)
    in_flight = 0
    most_in_flight = 0
    chunk_sizes: list[int] = []
    lock = threading.Lock()

    def slow_batch_get(name: str, kwargs: dict[str, Any]) -> Any:
        nonlocal in_flight, most_in_flight
        with lock:
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
            chunk_sizes.append(len(kwargs["RequestItems"][TABLE]["Keys"]))
        time.sleep(0.2)  # long enough for every chunk to be issued before any returns
        try:
            return getattr(moto_client, name)(**kwargs)
        finally:
            with lock:
                in_flight -= 1

    client = ScriptedClient(slow_batch_get)
    keys = [Key(entry["pk"], entry["sk"]) for entry in stored]

    found = await DynamoDbItemStore(cast(DynamoDBClient, client), TABLE).get_many(keys)

    assert found == stored
    assert sorted(chunk_sizes) == [50, 100, 100]
    assert most_in_flight == 3


async def test_duplicate_and_unstorable_keys_are_never_sent(moto_client) -> None:
    await put_all(DynamoDbItemStore(moto_client, TABLE), [item("A", "1"), item("B", "1")])
    sent: list[dict[str, Any]] = []

    def recording(name: str, kwargs: dict[str, Any]) -> Any:
        sent.extend(kwargs["RequestItems"][TABLE]["Keys"])
        return getattr(moto_client, name)(**kwargs)

    store = DynamoDbItemStore(cast(DynamoDBClient, ScriptedClient(recording)), TABLE)
    keys = [Key("A", "1"), Key("", "1"), Key("B", "1"), Key("A", ""), Key("A\ud800", "1")]

    found = await store.get_many([*keys, Key("A", "1")])

    assert found == [item("A", "1"), None, item("B", "1"), None, None, item("A", "1")]
    assert sent == [wire_key("A", "1"), wire_key("B", "1")]
    assert await store.get_many([Key("", ""), Key("\udfff", "x")]) == [None, None]
    assert len(sent) == 2  # keys that name no item cost no call at all


@pytest.mark.parametrize("segments", [1, 3, 7])
async def test_a_parallel_scan_reads_every_item_once_however_the_segments_split(
    moto_client, segments: int
) -> None:
    stored = [item(f"P{i:03}", f"S{i % 3}", n=i) for i in range(120)]
    await put_all(DynamoDbItemStore(moto_client, TABLE), stored)
    store = DynamoDbItemStore(moto_client, TABLE, scan_segments=segments)

    pages = [page async for page in store.scan(page_size=4)]

    assert all(1 <= len(page) <= 4 for page in pages)
    assert sorted((entry for page in pages for entry in page), key=lambda e: e["n"]) == stored


# --- query: pages DynamoDB cuts short, cursors as start keys -------------------------------


async def test_a_query_keeps_asking_when_dynamodb_stops_early(stubbed) -> None:
    client, stubber = stubbed
    base = {
        "TableName": TABLE,
        "KeyConditionExpression": "#pk = :pk",
        "ExpressionAttributeNames": {"#pk": "pk"},
        "ExpressionAttributeValues": {":pk": {"S": "P"}},
        "ScanIndexForward": True,
        "ConsistentRead": True,
    }
    stubber.add_response(
        "query",
        {"Items": [wire("P", "a")], "LastEvaluatedKey": wire_key("P", "a")},
        base | {"Limit": 4},
    )
    stubber.add_response(
        "query",
        {"Items": [wire("P", "b"), wire("P", "c")], "LastEvaluatedKey": wire_key("P", "c")},
        base | {"Limit": 3, "ExclusiveStartKey": wire_key("P", "a")},
    )
    stubber.add_response(
        "query",
        {"Items": [wire("P", "d")], "LastEvaluatedKey": wire_key("P", "d")},
        base | {"Limit": 1, "ExclusiveStartKey": wire_key("P", "c")},
    )

    page = await make_store(client, Sleeps()).query("P", limit=3)

    assert [entry["sk"] for entry in page.items] == ["a", "b", "c"]
    assert page.cursor == encode_cursor(["c"])


async def test_a_last_evaluated_key_with_nothing_after_it_ends_the_results(stubbed) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "query", {"Items": [wire("P", "a"), wire("P", "b")], "LastEvaluatedKey": wire_key("P", "b")}
    )
    stubber.add_response("query", {"Items": []})

    page = await make_store(client, Sleeps()).query("P", limit=2)

    assert [entry["sk"] for entry in page.items] == ["a", "b"] and page.cursor is None


@pytest.mark.parametrize("index", INDEXES)
async def test_an_index_cursor_resumes_from_index_and_table_key(stubbed, index: str) -> None:
    client, stubber = stubbed
    pk_attr, sk_attr = index_keys(index)
    start = {pk_attr: {"S": "G"}, sk_attr: {"S": "T#1"}, **wire_key("P", "S#01")}
    expected = {
        "TableName": TABLE,
        "IndexName": index,
        "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
        "ExpressionAttributeNames": {"#pk": pk_attr, "#sk": sk_attr},
        "ExpressionAttributeValues": {":pk": {"S": "G"}, ":prefix": {"S": "T#"}},
        "ScanIndexForward": False,
        "Limit": 6,
        "ExclusiveStartKey": start,
    }
    stubber.add_response("query", {"Items": []}, expected)

    after = encode_cursor(["T#1", "P", "S#01"])
    page = await make_store(client, Sleeps()).query(
        "G", index=index, prefix="T#", after=after, limit=5, descending=True
    )

    assert page.items == [] and page.cursor is None


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("position", ["0", "A", "A#", "A#1", "A#2", "A$", "B", "Z"])
async def test_a_cursor_outside_the_prefix_means_what_it_means_in_the_fake(
    moto_client, position: str, descending: bool
) -> None:
    # DynamoDB refuses a start key outside the key condition; the fake just compares.
    stored = [item("P", sk) for sk in ["0", "A#1", "A#2", "A#3", "B"]]
    fake = InMemoryItemStore()
    start_keys: list[dict[str, Any]] = []

    def recording(name: str, kwargs: dict[str, Any]) -> Any:
        if name == "query" and "ExclusiveStartKey" in kwargs:
            start_keys.append(kwargs["ExclusiveStartKey"])
        return getattr(moto_client, name)(**kwargs)

    store = DynamoDbItemStore(cast(DynamoDBClient, ScriptedClient(recording)), TABLE)
    for each in (fake, store):
        await put_all(each, stored)
    options: dict[str, Any] = {"prefix": "A#", "descending": descending}
    after = encode_cursor([position])

    assert await store.query("P", after=after, **options) == await fake.query(
        "P", after=after, **options
    )
    assert all(key["sk"]["S"].startswith("A#") for key in start_keys)


@pytest.mark.parametrize(
    ("index", "position"),
    [(None, [""]), ("gsi1", ["", "P", "1"]), ("gsi1", ["x", "", "1"]), ("gsi1", ["x", "P", ""])],
)
async def test_a_cursor_naming_an_empty_key_is_refused(
    moto_client, index: str | None, position: list[str]
) -> None:
    # No stored key is empty, so no query made this cursor, and DynamoDB cannot start there.
    store = DynamoDbItemStore(moto_client, TABLE)
    with pytest.raises(InvalidInputError):
        await store.query("P", index=index, after=encode_cursor(position))


async def test_an_empty_partition_is_an_empty_page_as_in_the_fake(moto_client) -> None:
    # DynamoDB refuses an empty key value; no item has one, so nothing is there to find.
    store = DynamoDbItemStore(moto_client, TABLE)
    await put_all(store, [item("P", "1", gsi1pk="G", gsi1sk="1")])

    for index in (None, *INDEXES):
        assert await store.query("", index=index) == await InMemoryItemStore().query(
            "", index=index
        )
    with pytest.raises(InvalidInputError):
        await store.query("", after="!!!")


# --- write: transactions, conflicts, retries -----------------------------------------------


def cancelled(*reasons: str) -> dict[str, Any]:
    return {
        "service_error_code": "TransactionCanceledException",
        "service_message": "Transaction cancelled, please refer cancellation reasons",
        "http_status_code": 400,
        "modeled_fields": {"CancellationReasons": [{"Code": code} for code in reasons]},
    }


@pytest.mark.parametrize(
    "reasons",
    [("None", "ConditionalCheckFailed"), ("TransactionConflict", "ConditionalCheckFailed")],
    ids=["condition", "condition-and-conflict"],
)
async def test_a_failed_condition_is_a_conflict_and_is_not_retried(stubbed, reasons) -> None:
    client, stubber = stubbed
    sleeps = Sleeps()
    stubber.add_client_error("transact_write_items", **cancelled(*reasons))

    with pytest.raises(ConflictError) as caught:
        await make_store(client, sleeps).write([Put(item("A", "1")), Put(item("B", "1"), Absent())])

    assert isinstance(caught.value.__cause__, ClientError) and sleeps.delays == []


async def test_a_conflict_on_moto_writes_nothing(moto_client) -> None:
    store = DynamoDbItemStore(moto_client, TABLE)
    await put_all(store, [item("B", "1", n=1)])

    with pytest.raises(ConflictError) as caught:
        await store.write([Put(item("A", "1")), Put(item("B", "1", n=2), Absent())])

    cause = caught.value.__cause__
    assert isinstance(cause, ClientError)
    assert cause.response["Error"]["Code"] == "TransactionCanceledException"
    assert await store.get_many([Key("A", "1"), Key("B", "1")]) == [None, item("B", "1", n=1)]


@pytest.mark.parametrize(
    ("stored", "expected"),
    [(1, True), (True, 1), (10**38 - 1, 10**38 - 1), (10**38 - 1, 10**40), (-5, -(10**39))],
    ids=["bool-expected", "bool-stored", "largest", "beyond-38-digits", "below-38-digits"],
)
async def test_version_conditions_at_the_edges_agree_with_the_fake(
    moto_client, stored: Any, expected: int
) -> None:
    fake = InMemoryItemStore()
    store = DynamoDbItemStore(moto_client, TABLE)
    outcomes: list[object] = []
    for each in (fake, store):
        await put_all(each, [item("F", "1", version=stored)])
        try:
            await each.write([Put(item("F", "1", version=0), VersionIs(expected))])
            outcomes.append("written")
        except ConflictError:
            outcomes.append("conflict")
        outcomes.append(await each.get_many([Key("F", "1")]))

    assert outcomes[:2] == outcomes[2:]


async def test_throttled_and_conflicting_transactions_are_retried_then_applied(stubbed) -> None:
    client, stubber = stubbed
    sleeps = Sleeps()
    stubber.add_client_error("transact_write_items", "ThrottlingException", http_status_code=400)
    stubber.add_client_error("transact_write_items", **cancelled("None", "TransactionConflict"))
    stubber.add_client_error(
        "transact_write_items", **cancelled("ProvisionedThroughputExceeded", "None")
    )
    stubber.add_response("transact_write_items", {})

    await make_store(client, sleeps).write([Put(item("A", "1")), Put(item("B", "1"))])

    assert sleeps.delays == [0.05, 0.1, 0.2]


# --- a lone Add: an UpdateItem, never a transaction ------------------------------------


USAGE = Add(Key("U", "USAGE"), {"used": 5}, at_most={"used": 100})


async def test_a_lone_add_is_one_update_item_not_a_transaction(stubbed) -> None:
    # A transaction naming a user's usage item is cancelled while another one writing it
    # is in flight; lone updates of one item DynamoDB applies one after another.
    client, stubber = stubbed
    stubber.add_response("update_item", {})

    await make_store(client, Sleeps()).write([USAGE])

    stubber.assert_no_pending_responses()


async def test_a_lone_add_past_its_bound_is_a_conflict_not_retried(stubbed) -> None:
    client, stubber = stubbed
    sleeps = Sleeps()
    stubber.add_client_error("update_item", "ConditionalCheckFailedException", http_status_code=400)

    with pytest.raises(ConflictError):
        await make_store(client, sleeps).write([USAGE])

    assert sleeps.delays == []


async def test_a_lone_add_is_repeated_only_when_certainly_not_applied(stubbed) -> None:
    client, stubber = stubbed
    sleeps = Sleeps()
    stubber.add_client_error("update_item", "ThrottlingException", http_status_code=400)
    stubber.add_client_error("update_item", "TransactionConflictException", http_status_code=400)
    stubber.add_response("update_item", {})

    await make_store(client, sleeps).write([USAGE])

    assert sleeps.delays == [0.05, 0.1]


@pytest.mark.parametrize("code", ["InternalServerError", "ServiceUnavailable"])
async def test_a_lone_add_that_may_have_been_applied_is_not_repeated(stubbed, code) -> None:
    # No request token makes a repeated UpdateItem a no-op: a second ADD would count twice.
    client, stubber = stubbed
    sleeps = Sleeps()
    stubber.add_client_error("update_item", code, http_status_code=500)

    with pytest.raises(StoreUnavailableError):
        await make_store(client, sleeps).write([USAGE])

    assert sleeps.delays == []
    stubber.assert_no_pending_responses()


async def test_a_lone_add_on_moto_counts_and_respects_its_bound(moto_client) -> None:
    store = DynamoDbItemStore(moto_client, TABLE)
    for _ in range(20):
        await store.write([USAGE])
    with pytest.raises(ConflictError):
        await store.write([USAGE])

    [usage] = await store.get_many([Key("U", "USAGE")])
    assert usage is not None and usage["used"] == 100


async def test_a_transaction_cancelled_for_another_reason_is_unavailable(stubbed) -> None:
    client, stubber = stubbed
    stubber.add_client_error("transact_write_items", **cancelled("ValidationError", "None"))

    with pytest.raises(StoreUnavailableError):
        await make_store(client, Sleeps()).write([Put(item("A", "1")), Put(item("B", "1"))])


async def test_a_throttled_query_is_retried_then_answers(stubbed) -> None:
    client, stubber = stubbed
    sleeps = Sleeps()
    stubber.add_client_error("query", "ProvisionedThroughputExceededException")
    stubber.add_client_error("query", "InternalServerError", http_status_code=500)
    stubber.add_response("query", {"Items": [wire("P", "a")]})

    page = await make_store(client, sleeps).query("P")

    assert page.items == [item("P", "a")] and sleeps.delays == [0.05, 0.1]


@pytest.mark.parametrize(
    "code",
    ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"],
)
@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
async def test_throttling_forever_is_unavailable_after_the_bound(call, code: str) -> None:
    def throttled(name: str, kwargs: dict[str, Any]) -> Any:
        raise client_error(code)

    client = ScriptedClient(throttled)
    sleeps = Sleeps()

    with pytest.raises(StoreUnavailableError) as caught:
        await call(make_store(client, sleeps, max_retries=3, scan_segments=1))

    assert len(client.calls) == 4 and len(sleeps.delays) == 3
    assert isinstance(caught.value.__cause__, ClientError)
    assert TABLE not in str(caught.value) and "arn:" not in str(caught.value)


# --- errors never leak; the loop stays free ------------------------------------------------

FAILURES: dict[str, Callable[[], Exception]] = {
    "connection": lambda: EndpointConnectionError(endpoint_url="http://127.0.0.1:9/"),
    "read-timeout": lambda: ReadTimeoutError(endpoint_url="http://127.0.0.1:9/"),
    "missing-table": lambda: client_error("ResourceNotFoundException"),
    "access-denied": lambda: client_error("AccessDeniedException"),
    "validation": lambda: client_error("ValidationException"),
}


# A dropped connection or a read timeout may or may not have reached DynamoDB; with
# botocore's retries off this adapter repeats them, which is safe because every call is
# idempotent (reads, and writes carrying a ClientRequestToken).
TRANSIENT = frozenset({"connection", "read-timeout"})


@pytest.mark.parametrize("failure_name", FAILURES.keys())
@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
async def test_no_botocore_error_escapes_any_method(call, failure_name: str) -> None:
    failure = FAILURES[failure_name]

    def failing(name: str, kwargs: dict[str, Any]) -> Any:
        raise failure()

    client = ScriptedClient(failing)

    # Two scan segments fail together: still one domain error, not an ExceptionGroup.
    with pytest.raises(StoreUnavailableError) as caught:
        await call(make_store(client, Sleeps(), scan_segments=2))

    assert type(caught.value.__cause__) is type(failure())
    segments = 2 if call is CALLS["scan"] else 1
    if failure_name in TRANSIENT:  # repeated up to the bound (4 retries), then unavailable
        assert 5 <= len(client.calls) <= 5 * segments
    else:
        # Not retried: one call, or one per scan segment at most (the second segment's
        # call may not have started when the first one's failure cancels it).
        assert 1 <= len(client.calls) <= segments
    message = str(caught.value)
    assert TABLE not in message and "arn:" not in message and "127.0.0.1" not in message


async def test_ping_of_a_missing_table_is_unavailable(moto_client) -> None:
    with pytest.raises(StoreUnavailableError) as caught:
        await DynamoDbItemStore(moto_client, "no-such-table").ping()
    assert isinstance(caught.value.__cause__, ClientError)
    assert "no-such-table" not in str(caught.value)


@pytest.mark.parametrize(
    "stored",
    [{"N": "1.5"}, {"SS": ["a"]}, {"B": b"raw"}, {"L": [{"NS": ["1"]}]}],
    ids=["fraction", "string-set", "binary", "nested-set"],
)
async def test_values_the_port_does_not_allow_are_unavailable_not_returned(stubbed, stored) -> None:
    client, stubber = stubbed
    stubber.add_response("query", {"Items": [{**wire("P", "a"), "odd": stored}]})

    with pytest.raises(StoreUnavailableError):
        await make_store(client, Sleeps()).query("P")


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
async def test_a_slow_call_does_not_block_the_event_loop(call) -> None:
    client = ScriptedClient(lambda name, kwargs: EMPTY_ANSWERS[name], delay=0.3)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        await call(make_store(client, Sleeps(), scan_segments=1))
    finally:
        ticker.cancel()

    # A blocked loop would have ticked at most once in those 300 ms.
    assert ticks >= 10


def test_the_constructor_calls_nothing() -> None:
    client = ScriptedClient(lambda name, kwargs: pytest.fail(f"{name} called"))
    DynamoDbItemStore(cast(DynamoDBClient, client), TABLE)
    assert client.calls == []


# --- the resource definitions ---------------------------------------------------------------


def test_the_table_definition_matches_domain_ports() -> None:
    create = resources()["table"]["create"]
    assert table_drift(create) == []
    assert {index["IndexName"] for index in create["GlobalSecondaryIndexes"]} == set(INDEXES)


def test_a_drifted_table_definition_is_reported() -> None:
    create = resources()["table"]["create"]
    renamed = {
        **create,
        "GlobalSecondaryIndexes": [
            {**index, "IndexName": index["IndexName"] + "x"}
            for index in create["GlobalSecondaryIndexes"]
        ],
    }
    swapped = [
        {"AttributeName": "pk", "KeyType": "RANGE"},
        {"AttributeName": "sk", "KeyType": "HASH"},
    ]
    rekeyed = {**create, "KeySchema": swapped}
    typed = {
        **create,
        "AttributeDefinitions": [
            {**attr, "AttributeType": "N"} for attr in create["AttributeDefinitions"]
        ],
    }
    for drifted in (renamed, rekeyed, typed):
        assert table_drift(drifted)


def test_the_created_table_has_ttl_streams_and_point_in_time_recovery(moto_client) -> None:
    table = moto_client.describe_table(TableName=TABLE)["Table"]
    ttl = moto_client.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    backups = moto_client.describe_continuous_backups(TableName=TABLE)

    assert table.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST"
    assert table.get("StreamSpecification") == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert recovery.get("PointInTimeRecoveryStatus") == "ENABLED"


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_the_bucket_is_versioned_private_and_open_to_browser_uploads(region: str) -> None:
    with mock_aws():
        s3 = s3_client()
        create_bucket(s3, "demobackend-files", region)

        assert s3.get_bucket_versioning(Bucket="demobackend-files").get("Status") == "Enabled"
        block = s3.get_public_access_block(Bucket="demobackend-files")
        assert all(block["PublicAccessBlockConfiguration"].values())
        [rule] = s3.get_bucket_cors(Bucket="demobackend-files")["CORSRules"]
        assert {"PUT", "POST"} <= set(rule["AllowedMethods"])
        location = s3.get_bucket_location(Bucket="demobackend-files").get("LocationConstraint")
        assert (location or "us-east-1") == region


def test_the_user_pool_has_case_insensitive_names_and_an_admin_group() -> None:
    with mock_aws():
        cognito: Any = cognito_client()
        pool_id, client_id = create_user_pool(cognito, "demobackend")

        pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
        groups = cognito.list_groups(UserPoolId=pool_id)["Groups"]
        app = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)
        app = app["UserPoolClient"]

    assert pool["UsernameConfiguration"] == {"CaseSensitive": False}
    assert [group["GroupName"] for group in groups] == ["admin"]
    assert "ALLOW_ADMIN_USER_PASSWORD_AUTH" in app["ExplicitAuthFlows"]
    assert "ClientSecret" not in app
