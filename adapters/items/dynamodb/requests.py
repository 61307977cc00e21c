"""DynamoDB request shapes for the ItemStore: queries resumed from the shared cursors, and
conditional transaction items meaning what adapters/items/conditions.py means."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.items.conditions import add_bounds
from adapters.items.cursors import decode_cursor
from adapters.items.dynamodb.codec import key_attributes, to_attributes
from adapters.items.dynamodb.retry import CONFLICT
from domain.errors import ConflictError, InvalidInputError
from domain.ports import Absent, Add, Condition, Delete, Exists, Item, Put, WriteOp, index_keys

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        ConditionCheckTypeDef,
        DeleteTypeDef,
        PutTypeDef,
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
        UpdateTypeDef,
    )

    from adapters.items.dynamodb.codec import Attributes

# Stored ints have at most 38 digits (check_write_batch), so no stored version equals a
# bigger one; boto3 could not even serialise it.
_INT_LIMIT = 10**38


def position(item: Item, index: str | None) -> list[str]:
    """The item's place in a query's order, as the fake and SQLite put it in cursors."""
    if index is None:
        return [item["sk"]]
    return [item[index_keys(index)[1]], item["pk"], item["sk"]]


def query_request(
    table: str, partition: str, *, index: str | None, prefix: str | None, descending: bool
) -> QueryInputTypeDef:
    pk_attr, sk_attr = index_keys(index) if index is not None else ("pk", "sk")
    condition = "#pk = :pk"
    names = {"#pk": pk_attr}
    values: dict[str, AttributeValueTypeDef] = {":pk": {"S": partition}}
    if prefix:  # begins_with refuses "", which selects everything anyway
        condition += " AND begins_with(#sk, :prefix)"
        names["#sk"] = sk_attr
        values[":prefix"] = {"S": prefix}
    request: QueryInputTypeDef = {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": not descending,
    }
    if index is None:
        request["ConsistentRead"] = True
    else:
        request["IndexName"] = index  # global indexes cannot be read consistently
    return request


@dataclass(frozen=True, slots=True)
class Resume:
    """Where the page after a cursor starts."""

    start_key: Attributes | None = None  # None: at the first match
    exhausted: bool = False  # nothing can follow the cursor


def resume(
    after: str, *, partition: str, index: str | None, prefix: str | None, descending: bool
) -> Resume:
    """Turn a cursor back into an ExclusiveStartKey: the partition is the (index) partition
    key, the cursor's position supplies the sort key and, for an index, the table key."""
    start = decode_cursor(after, parts=1 if index is None else 3)
    # DynamoDB refuses empty key values, and no stored item has one: no query produced this.
    if not all(start):
        raise InvalidInputError("Invalid cursor")
    # DynamoDB also refuses a start key outside the key condition. A sort key that does not
    # start with the prefix lies before or after every match, so say what that means.
    if prefix and not start[0].startswith(prefix):
        before_every_match = start[0] < prefix
        return Resume(exhausted=before_every_match == descending)
    if index is None:
        return Resume(key_attributes(partition, start[0]))
    pk_attr, sk_attr = index_keys(index)
    table_key = key_attributes(start[1], start[2])
    return Resume({pk_attr: {"S": partition}, sk_attr: {"S": start[0]}, **table_key})


def transact_items(table: str, ops: Sequence[WriteOp]) -> list[TransactWriteItemTypeDef]:
    """One transaction item per op; ops must have passed check_write_batch."""
    return [_transact_item(table, op) for op in ops]


def _transact_item(table: str, op: WriteOp) -> TransactWriteItemTypeDef:
    if isinstance(op, Put):
        put: PutTypeDef = {"TableName": table, "Item": to_attributes(op.item)}
        _add_condition(put, op.condition)
        return {"Put": put}
    if isinstance(op, Add):
        return {"Update": _update(table, op)}
    key = key_attributes(op.key.pk, op.key.sk)
    if isinstance(op, Delete):
        delete: DeleteTypeDef = {"TableName": table, "Key": key}
        _add_condition(delete, op.condition)
        return {"Delete": delete}
    check: ConditionCheckTypeDef = {"TableName": table, "Key": key, "ConditionExpression": ""}
    _add_condition(check, op.condition)
    return {"ConditionCheck": check}


def _add_condition(
    request: PutTypeDef | DeleteTypeDef | ConditionCheckTypeDef, condition: Condition | None
) -> None:
    if condition is None:
        return
    # Names, not the bare words: DynamoDB refuses reserved words in expressions.
    request["ExpressionAttributeNames"] = {"#pk": "pk"}
    if isinstance(condition, Absent):
        request["ConditionExpression"] = "attribute_not_exists(#pk)"
    elif isinstance(condition, Exists):
        request["ConditionExpression"] = "attribute_exists(#pk)"
    else:
        if not -_INT_LIMIT < condition.version < _INT_LIMIT:
            raise ConflictError(CONFLICT)
        # As in condition_holds, version=True must not match VersionIs(1). DynamoDB keeps
        # BOOL and N apart, but moto compares bare values (True == 1), so the type is
        # checked explicitly; int() makes VersionIs(True) mean 1, as it does there.
        request["ConditionExpression"] = (
            "attribute_exists(#pk) AND attribute_type(#version, :number) AND #version = :version"
        )
        request["ExpressionAttributeNames"] = {"#pk": "pk", "#version": "version"}
        request["ExpressionAttributeValues"] = {
            ":number": {"S": "N"},
            ":version": {"N": str(int(condition.version))},
        }


def update_request(table: str, op: Add) -> UpdateTypeDef:
    """The UpdateItem parameters of an Add written on its own (no transaction)."""
    return _update(table, op)


def _update(table: str, op: Add) -> UpdateTypeDef:
    """ADD each delta, SET missing defaults, under a condition mirroring add_holds."""
    names: dict[str, str] = {}
    values: dict[str, AttributeValueTypeDef] = {":number": {"S": "N"}}
    adds, conditions = [], []
    bounds = add_bounds(op)
    for n, (name, delta) in enumerate(op.deltas.items()):
        names[f"#a{n}"] = name
        values[f":d{n}"] = {"N": str(delta)}
        adds.append(f"#a{n} :d{n}")
        condition = f"attribute_type(#a{n}, :number)"
        if name in bounds:
            values[f":m{n}"] = {"N": str(bounds[name])}
            condition += f" AND #a{n} <= :m{n}"
        # A missing attribute counts as 0; whether 0 is within the bound is decided here,
        # so the expression asks only about stored values.
        if bounds.get(name, 0) >= 0:
            condition = f"attribute_not_exists(#a{n}) OR {condition}"
            # DynamoDB refuses redundant parentheses, and AND binds tighter than OR.
            if len(op.deltas) > 1:
                condition = f"({condition})"
        conditions.append(condition)
    expression = "ADD " + ", ".join(adds)
    sets = []
    for n, (name, default) in enumerate(op.defaults.items()):
        names[f"#s{n}"] = name
        values[f":s{n}"] = to_attributes({"v": default})["v"]
        sets.append(f"#s{n} = if_not_exists(#s{n}, :s{n})")
    if sets:
        expression += " SET " + ", ".join(sets)
    return {
        "TableName": table,
        "Key": key_attributes(op.key.pk, op.key.sk),
        "UpdateExpression": expression,
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
