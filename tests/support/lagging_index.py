"""A fault: DynamoDB global secondary indexes that lag behind the table.

DynamoDB cannot read a GSI consistently: a Query on an index may miss what was just
written, or still show what was just changed or deleted. moto's indexes are always up to
date, which hides that. ``LaggingIndexes`` puts the lag back, on the DynamoDB API itself:
after ``freeze()``, every Query with an ``IndexName`` on the table is answered from a copy
of the table taken at that moment (a second table in the same emulator), while the table
and every other read move on. ``thaw()`` ends the lag. Table queries, GetItem,
BatchGetItem, Scan and writes are untouched, as on AWS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ops.aws_resources import create_table
from tests.support.moto_server import unique_name

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_EVENT = "before-parameter-build.dynamodb.Query"
_BATCH_WRITE = 25  # BatchWriteItem's limit


class LaggingIndexes:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table
        self._snapshot: str | None = None
        self.stale_reads = 0  # index queries answered from the snapshot
        client.meta.events.register(_EVENT, self._redirect)

    def freeze(self) -> None:
        """From now on index reads see the table as it is now."""
        self.thaw()
        snapshot = unique_name("stale-index")
        create_table(self._client, snapshot)
        items: list[dict[str, Any]] = []
        paginator = self._client.get_paginator("scan")
        for page in paginator.paginate(TableName=self._table, ConsistentRead=True):
            items += page.get("Items", [])
        for start in range(0, len(items), _BATCH_WRITE):
            chunk = items[start : start + _BATCH_WRITE]
            response = self._client.batch_write_item(
                RequestItems={snapshot: [{"PutRequest": {"Item": item}} for item in chunk]}
            )
            # A partial copy would be a different fault from the one this class promises.
            assert not response.get("UnprocessedItems"), "snapshot copy incomplete"
        self._snapshot = snapshot

    def thaw(self) -> None:
        snapshot, self._snapshot = self._snapshot, None
        if snapshot is not None:
            self._client.delete_table(TableName=snapshot)

    def close(self) -> None:
        self.thaw()
        self._client.meta.events.unregister(_EVENT, self._redirect)

    def _redirect(self, params: dict[str, Any], **_: Any) -> None:
        snapshot = self._snapshot
        if snapshot is not None and params.get("IndexName") and params["TableName"] == self._table:
            params["TableName"] = snapshot
            self.stale_reads += 1
