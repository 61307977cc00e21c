"""The AWS composition's stores for in-process suites: DynamoDB and S3 through the process's
moto server over real HTTP (support/moto_server.py), a fresh table and bucket per use.

``open_aws_stores()`` yields an ``AwsStores``: the ItemStore and BlobStore the composition
root builds for BACKEND=aws, a ``LaggingIndexes`` fault on the table (off until frozen), and
``send_form`` to upload bytes to a presigned POST exactly as a browser would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import httpx

from adapters.blobs.s3 import S3BlobStore
from adapters.items.dynamodb.store import DynamoDbItemStore
from domain.ports import MAX_WRITE_ITEMS, Delete, Item, ItemStore, Key, Put, WriteOp
from ops.aws_resources import create_bucket, create_table
from tests.support.blob_backends import sigv4_s3_client
from tests.support.lagging_index import LaggingIndexes
from tests.support.moto_server import (
    REGION,
    cognito_client,
    dynamodb_client,
    shared_moto_server,
    unique_name,
)

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

HTTP_TIMEOUT_SECONDS = 10.0


@dataclass
class AwsStores:
    items: DynamoDbItemStore
    blobs: S3BlobStore
    dynamodb: DynamoDBClient
    s3: S3Client
    table: str
    bucket: str
    lag: LaggingIndexes

    def send_form(self, upload: dict[str, Any], data: bytes, filename: str = "blob") -> None:
        """POST the presigned form with the file part last; S3 must accept it."""
        assert upload["method"] == "POST", upload["method"]
        fields = dict(upload["fields"])
        part_type = fields.get("Content-Type", "application/octet-stream")
        response = httpx.post(
            upload["url"],
            data=fields,
            files={"file": (filename, data, part_type)},
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        assert response.status_code in (200, 201, 204), response.text


@cache
def shared_clients(
    endpoint: str,
) -> tuple[DynamoDBClient, S3Client, CognitoIdentityProviderClient]:
    """One DynamoDB, SigV4 S3 and Cognito client per server, for suites that provision a
    stack per test: a botocore client holds tens of MB, too much to build for every test."""
    return dynamodb_client(endpoint), sigv4_s3_client(endpoint), cognito_client(endpoint)


@contextmanager
def open_aws_stores() -> Iterator[AwsStores]:
    dynamodb, s3, _ = shared_clients(shared_moto_server())
    table, bucket = unique_name("items"), unique_name("files")
    create_table(dynamodb, table)
    without_stream(dynamodb, table)
    create_bucket(s3, bucket, REGION)
    lag = LaggingIndexes(dynamodb, table)
    try:
        yield AwsStores(
            DynamoDbItemStore(dynamodb, table),
            S3BlobStore(s3, bucket, max_expiry=3600),
            dynamodb,
            s3,
            table,
            bucket,
            lag,
        )
    finally:
        lag.close()
        dynamodb.delete_table(TableName=table)
        drop_bucket(s3, bucket)
        forget_tracked_items()


def without_stream(dynamodb: DynamoDBClient, table: str) -> None:
    """Turn the table's stream off. moto keeps every stream record for the life of the
    table and deep-copies the whole table, stream included, in every TransactWriteItems, so
    a suite that writes a few hundred items grows quadratically in time and memory (one
    process went past 10 GB). The app never reads its stream; the template's checks
    (tests/contract) create tables of their own.

    moto's UpdateTable leaves the old shard behind (and then fails every write with a
    KeyError), so the shard is dropped in moto's backend, which lives in this process."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    dynamodb.update_table(TableName=table, StreamSpecification={"StreamEnabled": False})
    dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(table).stream_shard = None


def forget_tracked_items() -> None:
    """Let moto's DynamoDB models be freed. moto keeps every model instance it ever made in
    a class-level list (for its dashboard and its reset), and DynamoDB makes an Item for
    every item of every Scan result and, per TransactWriteItems, for every item of the table
    (its rollback copy): a suite of a few hundred cases kept gigabytes alive. The tables hold
    their own items; only the dashboard's view is lost. (S3's list is left alone: moto's
    reset closes the objects' buffers through it.)"""
    from moto.core.model_instances import model_data

    for model in model_data["dynamodb"].values():
        model.instances_tracked = []  # type: ignore[attr-defined]


def drop_bucket(s3: S3Client, bucket: str) -> None:
    """Every version and delete marker, then the bucket: moto keeps bytes in memory."""
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        versions = page.get("Versions", []) + page.get("DeleteMarkers", [])
        if versions:
            s3.delete_objects(
                Bucket=bucket,
                Delete={
                    "Objects": [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions]
                },
            )
    s3.delete_bucket(Bucket=bucket)


async def all_items(store: ItemStore) -> dict[tuple[str, str], Item]:
    """Every stored item by (pk, sk), read from the store itself (a scan on DynamoDB)."""
    found: dict[tuple[str, str], Item] = {}
    async for page in store.scan():
        found.update({(item["pk"], item["sk"]): item for item in page})
    return found


@dataclass
class Checkpoint:
    """A table's items and a versioned bucket's object versions as they were, to put back
    after a case that changed them: a suite builds its data once and every case starts
    from it (cheaper than a table and bucket per case, and the table stays small)."""

    items: ItemStore
    s3: S3Client
    bucket: str
    _items: dict[tuple[str, str], Item] = field(default_factory=dict)
    _versions: set[tuple[str, str]] = field(default_factory=set)

    async def take(self) -> Checkpoint:
        self._items = await all_items(self.items)
        self._versions = set(_object_versions(self.s3, self.bucket))
        return self

    async def restore(self) -> None:
        """Rewrite what changed, delete what was made, re-put what was deleted; delete every
        object version and delete marker made since, so each key is served by the very
        version it had (bytes, metadata and checksum as they were)."""
        now = await all_items(self.items)
        ops: list[WriteOp] = [Delete(Key(*key)) for key in now.keys() - self._items.keys()]
        ops += [Put(item) for key, item in self._items.items() if now.get(key) != item]
        for start in range(0, len(ops), MAX_WRITE_ITEMS):
            await self.items.write(ops[start : start + MAX_WRITE_ITEMS])
        newer = [
            {"Key": key, "VersionId": version}
            for key, version in _object_versions(self.s3, self.bucket)
            if (key, version) not in self._versions
        ]
        forget_tracked_items()
        for start in range(0, len(newer), 1000):  # DeleteObjects takes 1000 keys a call
            self.s3.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": newer[start : start + 1000]},  # type: ignore[typeddict-item]
            )


def _object_versions(s3: S3Client, bucket: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            found.append((entry["Key"], entry["VersionId"]))
    return found
