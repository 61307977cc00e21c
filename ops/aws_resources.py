"""Create the AWS resources from their one definition, infra/resources.json: the table, the
bucket and the user pool, for tests and for running the AWS code path on an emulator.

The shapes in the file are those of the boto3 create calls, so they are passed through as
they are; infra/template.yaml describes the same resources for CloudFormation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domain.ports import INDEXES, index_keys

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient as CognitoClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

RESOURCES_PATH = Path(__file__).parents[1] / "infra" / "resources.json"


@cache
def resources() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(RESOURCES_PATH.read_text(encoding="utf-8"))
    return loaded


def table_drift(create: Mapping[str, Any]) -> list[str]:
    """How a CreateTable definition differs from what the ItemStore adapters assume
    (domain.ports); empty when they agree."""
    problems: list[str] = []
    if _key_schema(create["KeySchema"]) != ("pk", "sk"):
        problems.append("the table key must be pk (HASH), sk (RANGE)")
    indexes = {index["IndexName"]: index for index in create.get("GlobalSecondaryIndexes", [])}
    if set(indexes) != set(INDEXES):
        problems.append(f"global indexes {sorted(indexes)} != domain.ports INDEXES {INDEXES}")
    for name in set(indexes) & set(INDEXES):
        if _key_schema(indexes[name]["KeySchema"]) != index_keys(name):
            problems.append(f"index {name} must be keyed by {index_keys(name)}")
        if indexes[name].get("Projection") != {"ProjectionType": "ALL"}:
            problems.append(f"index {name} must project ALL attributes (queries return items)")
    types = {
        attr["AttributeName"]: attr["AttributeType"] for attr in create["AttributeDefinitions"]
    }
    key_attributes = {"pk", "sk", *(attr for index in INDEXES for attr in index_keys(index))}
    if types != dict.fromkeys(key_attributes, "S"):
        problems.append(
            f"exactly the key attributes {sorted(key_attributes)} must be defined, as S"
        )
    return problems


def create_table(client: DynamoDBClient, table_name: str) -> None:
    table = resources()["table"]
    problems = table_drift(table["create"])
    if problems:
        raise RuntimeError(f"{RESOURCES_PATH.name} does not match domain.ports: {problems}")
    client.create_table(TableName=table_name, **table["create"])
    # Five minutes is ample for a real table to become ACTIVE; an emulator is ACTIVE at once.
    client.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
    )
    client.update_time_to_live(TableName=table_name, TimeToLiveSpecification=table["timeToLive"])
    if table["pointInTimeRecovery"]:
        client.update_continuous_backups(
            TableName=table_name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )


def create_bucket(s3_client: S3Client, bucket: str, region: str) -> None:
    spec = resources()["bucket"]
    if region == "us-east-1":  # the one region S3 refuses a LocationConstraint for
        s3_client.create_bucket(Bucket=bucket)
    else:
        s3_client.create_bucket(
            Bucket=bucket,
            # The stubs spell regions as a Literal; any region S3 knows is fine here.
            CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
        )
    s3_client.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration=spec["publicAccessBlock"]
    )
    s3_client.put_bucket_encryption(
        Bucket=bucket, ServerSideEncryptionConfiguration=spec["encryption"]
    )
    s3_client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=spec["versioning"])
    s3_client.put_bucket_cors(Bucket=bucket, CORSConfiguration=spec["cors"])
    s3_client.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration=spec["lifecycle"]
    )


def create_user_pool(cognito_client: CognitoClient, name: str) -> tuple[str, str]:
    """Create the pool, its app client and its groups; return (pool id, client id)."""
    spec = resources()["userPool"]
    pool_id: str = cognito_client.create_user_pool(PoolName=name, **spec["create"])["UserPool"][
        "Id"
    ]
    client_id: str = cognito_client.create_user_pool_client(
        UserPoolId=pool_id, ClientName=f"{name}-app", **spec["client"]
    )["UserPoolClient"]["ClientId"]
    for group in spec["groups"]:
        cognito_client.create_group(UserPoolId=pool_id, **group)
    return pool_id, client_id


def _key_schema(schema: list[dict[str, str]]) -> tuple[str, ...]:
    order = {"HASH": 0, "RANGE": 1}
    return tuple(key["AttributeName"] for key in sorted(schema, key=lambda k: order[k["KeyType"]]))
