"""ItemStore over one DynamoDB table (layout: infra/resources.json), held to the same
contract as SQLite and the fake (tests/contract)."""

from __future__ import annotations

import asyncio
import copy
import random as random_module
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from adapters.items.conditions import (
    check_write_batch,
    is_storable_text,
    validate_page_size,
    validate_query,
)
from adapters.items.cursors import encode_cursor
from adapters.items.dynamodb.codec import from_attributes, key_attributes
from adapters.items.dynamodb.requests import (
    Resume,
    position,
    query_request,
    resume,
    transact_items,
    update_request,
)
from adapters.items.dynamodb.retry import UNAVAILABLE, RetryPolicy, in_thread, in_thread_once
from adapters.resilience.budget import RetryBudget
from domain.errors import StoreUnavailableError
from domain.ports import MAX_BATCH_GET, Add, Item, Key, Page, WriteOp

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, ScanInputTypeDef

    from adapters.items.dynamodb.codec import Attributes

_T = TypeVar("_T")

_INCOMPLETE_READ = "The item store is busy; not every item could be read, try again shortly"
_PING_KEY = key_attributes("#ping", "#ping")


class DynamoDbItemStore:
    """ItemStore on the DynamoDB table ``table_name``, through an injected boto3 client.

    The client is the composition root's: its region, endpoint, timeouts and
    ``max_pool_connections`` (keep it >= the chunks of the largest get_many) are configured
    there, with botocore's own retries OFF. Every call runs on a worker thread of the event
    loop's default executor; throttling, 5xx answers, dropped connections and
    UnprocessedKeys are repeated here at most ``max_retries`` times with capped, fully
    jittered exponential backoff, within the request's deadline and the shared
    ``budget``, then ServiceUnavailableError. No botocore exception leaves this class.

    Where DynamoDB differs from the contract:
    - Index ties: the contract orders items with equal index sort keys by table key
      (pk, sk). DynamoDB does not promise any order among such ties (moto happens to use
      table-key order). Paging stays exact either way, because a cursor resumes from the
      full index key (index sort key, pk, sk) as DynamoDB's own LastEvaluatedKey does.
    - Index reads are eventually consistent (DynamoDB cannot read a global index
      consistently); table queries, get_many and scan read consistently.
    - A transaction DynamoDB cancels for a conflicting transaction or throttling applied
      nothing, so it is sent again whole. As with SQLite, cancelling the awaiting task
      does not stop a request already sent: that write may still be applied.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        max_retries: int = 5,
        base_delay: float = 0.05,
        max_delay: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = random_module.random,
        scan_segments: int = 4,
        budget: RetryBudget | None = None,
    ) -> None:
        if scan_segments < 1:
            raise ValueError("scan_segments must be at least 1")
        self._client = client
        self._table = table_name
        self._retry = RetryPolicy(max_retries, base_delay, max_delay, sleep, random, budget)
        self._scan_segments = scan_segments

    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        # BatchGetItem refuses duplicate keys and empty key values; a key no store can
        # hold (empty, or a lone surrogate) names no item, as in SQLite.
        wanted = list(dict.fromkeys((key.pk, key.sk) for key in keys if _storable(key)))
        chunks = [wanted[i : i + MAX_BATCH_GET] for i in range(0, len(wanted), MAX_BATCH_GET)]
        found: dict[tuple[str, str], Item] = {}
        for part in await self._read_chunks(chunks):
            found.update(part)
        results: list[Item | None] = []
        handed_out: set[tuple[str, str]] = set()
        for key in keys:
            wanted_key = (key.pk, key.sk)
            item = found.get(wanted_key)
            # Each duplicate gets its own copy, so a caller changing one changes no other.
            if item is not None and wanted_key in handed_out:
                item = copy.deepcopy(item)
            handed_out.add(wanted_key)
            results.append(item)
        return results

    async def query(
        self,
        partition: str,
        *,
        index: str | None = None,
        prefix: str | None = None,
        after: str | None = None,
        limit: int = 100,
        descending: bool = False,
    ) -> Page:
        validate_query(index=index, limit=limit, partition=partition, prefix=prefix)
        start = Resume()
        if after is not None:
            start = resume(
                after, partition=partition, index=index, prefix=prefix, descending=descending
            )
        # No item has an empty key, and DynamoDB refuses to look one up.
        if start.exhausted or not partition:
            return Page(items=[])
        request = query_request(
            self._table, partition, index=index, prefix=prefix, descending=descending
        )
        collected = await self._collect(request, start.start_key, wanted=limit + 1)
        # The item beyond the page only tells that something follows.
        page = collected[:limit]
        more = len(collected) > limit
        item_cursors = [encode_cursor(position(item, index)) for item in page]
        return Page(
            items=page, cursor=item_cursors[-1] if more else None, item_cursors=item_cursors
        )

    async def write(self, ops: Sequence[WriteOp]) -> None:
        check_write_batch(ops)
        if len(ops) == 1 and isinstance(ops[0], Add):
            await self._add_alone(ops[0])
            return
        # A transaction otherwise, even for one op: conditions and atomicity mean the same
        # for one op as for a hundred.
        request = transact_items(self._table, ops)
        # The token makes a repeat of this exact request (after a throttle, a 5xx or a lost
        # answer) a no-op if the first one was applied: no write is ever applied twice.
        token = str(uuid.uuid4())
        await self._call(
            partial(
                self._client.transact_write_items, TransactItems=request, ClientRequestToken=token
            )
        )

    async def _add_alone(self, op: Add) -> None:
        # A counter hot with one user's parallel requests: DynamoDB cancels a transaction
        # naming an item another transaction is writing (TransactionConflict), but applies
        # lone updates of one item one after another. An UpdateItem carries no request
        # token, so it is repeated only when it was certainly not applied.
        request = update_request(self._table, op)
        await self._retry.run(partial(in_thread_once, partial(self._client.update_item, **request)))

    async def scan(self, *, page_size: int = 500) -> AsyncIterator[list[Item]]:
        validate_page_size(page_size)
        # Segments advance in lock step, one page each per round: parallel reads, yet
        # nothing runs on behind a consumer that stops iterating early.
        segments: dict[int, Attributes | None] = dict.fromkeys(range(self._scan_segments))
        while segments:
            pages = await _all(
                self._call(partial(self._scan_page, segment, start, page_size))
                for segment, start in segments.items()
            )
            segments_read, segments = list(segments), {}
            for segment, (items, next_start) in zip(segments_read, pages, strict=True):
                if items:
                    yield items
                if next_start is not None:
                    segments[segment] = next_start

    async def ping(self) -> None:
        # A read of a key no item uses: it proves the table, credentials and permissions
        # that real requests need, at the cost of a single small read.
        await self._call(
            partial(
                self._client.get_item,
                TableName=self._table,
                Key=_PING_KEY,
                ProjectionExpression="#pk",
                ExpressionAttributeNames={"#pk": "pk"},
            )
        )

    async def _collect(
        self, request: QueryInputTypeDef, start_key: Attributes | None, *, wanted: int
    ) -> list[Item]:
        """Up to ``wanted`` items from ``start_key`` on. DynamoDB may stop early (1 MB per
        response), so keep asking; every response but the last holds at least one item,
        which bounds the loop."""
        collected: list[Item] = []
        for _ in range(wanted + 1):
            if start_key is not None:
                request["ExclusiveStartKey"] = start_key
            request["Limit"] = wanted - len(collected)
            items, start_key = await self._call(partial(self._query_page, request.copy()))
            collected += items
            if len(collected) >= wanted or start_key is None:
                return collected
        raise StoreUnavailableError(UNAVAILABLE)

    async def _read_chunks(
        self, chunks: list[list[tuple[str, str]]]
    ) -> list[dict[tuple[str, str], Item]]:
        """Read every chunk concurrently (the bench runs them one by one to compare)."""
        return await _all(self._read_chunk(chunk) for chunk in chunks)

    async def _read_chunk(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Item]:
        found: dict[tuple[str, str], Item] = {}
        pending = [key_attributes(pk, sk) for pk, sk in keys]

        async def attempt() -> list[Attributes]:
            nonlocal pending
            items, pending = await in_thread(partial(self._batch_get, pending))
            found.update(((item["pk"], item["sk"]), item) for item in items)
            return pending

        # Never a silent partial result: keys still unprocessed after the bound fail the call.
        await self._retry.run(attempt, finished=lambda rest: not rest, gave_up=_INCOMPLETE_READ)
        return found

    async def _call(self, work: Callable[[], _T]) -> _T:
        return await self._retry.run(partial(in_thread, work))

    # The methods below run on worker threads: they call AWS and decode there, so a large
    # response does not stall the event loop.

    def _batch_get(self, keys: list[Attributes]) -> tuple[list[Item], list[Attributes]]:
        response = self._client.batch_get_item(
            RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}}
        )
        found = response.get("Responses") or {}
        unprocessed = response.get("UnprocessedKeys") or {}
        items = [from_attributes(raw) for raw in found.get(self._table, [])]
        return items, list(unprocessed.get(self._table, {"Keys": []})["Keys"])

    def _query_page(self, request: QueryInputTypeDef) -> tuple[list[Item], Attributes | None]:
        response = self._client.query(**request)
        items = [from_attributes(raw) for raw in response.get("Items", [])]
        return items, response.get("LastEvaluatedKey")

    def _scan_page(
        self, segment: int, start: Attributes | None, page_size: int
    ) -> tuple[list[Item], Attributes | None]:
        request: ScanInputTypeDef = {
            "TableName": self._table,
            "Segment": segment,
            "TotalSegments": self._scan_segments,
            "Limit": page_size,
            "ConsistentRead": True,
        }
        if start is not None:
            request["ExclusiveStartKey"] = start
        response = self._client.scan(**request)
        items = [from_attributes(raw) for raw in response.get("Items", [])]
        return items, response.get("LastEvaluatedKey")


def _storable(key: Key) -> bool:
    return all(
        isinstance(part, str) and part and is_storable_text(part) for part in (key.pk, key.sk)
    )


async def _all(coroutines: Iterable[Coroutine[Any, Any, _T]]) -> list[_T]:
    """Await concurrently; if one fails, cancel the others and raise that failure itself
    (a domain error, not an ExceptionGroup)."""
    pending = list(coroutines)
    if len(pending) == 1:
        return [await pending[0]]
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(coroutine) for coroutine in pending]
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0]  # noqa: B904 - it keeps its own __cause__
    return [task.result() for task in tasks]
