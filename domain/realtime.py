"""Subscriptions held outside the process: where API Gateway keeps the sockets (AWS).

On the local server a subscription is a coroutine reading the in-process bus; on AWS no
process outlives a message, so each connection and each subscription is a stored record,
and a separate stream consumer finds the subscribers of every committed change. Two ports:

- ``ConnectionRegistry`` (a repository over the ItemStore port): connections and
  subscriptions, keyed so that the subscribers of one file, of one user, and of every admin
  are each found by one Query (never a scan);
- ``ConnectionGateway`` (a port): sends one message down a connection, or closes it.

Routing keys name who *might* care, exactly like the local bus (adapters/events/memory.py);
access is still decided per subscriber at delivery (domain/access.py).
"""

import json
from dataclasses import dataclass
from typing import Protocol

from domain.errors import ConflictError, DomainError
from domain.events import FileEvent, FileEventInterest
from domain.models import Principal
from domain.ports import (
    MAX_QUERY_LIMIT,
    MAX_WRITE_ITEMS,
    Absent,
    Delete,
    Exists,
    Item,
    ItemStore,
    Key,
    Put,
)

ADMINS_ROUTE = "ADMINS"


def route_of(interest: FileEventInterest) -> str:
    """The one key a subscription is stored under: its file, else its user (admins share
    one key: their unfiltered streams see every file)."""
    if interest.file_id is not None:
        return f"FILE#{interest.file_id}"
    if interest.viewer.is_admin:
        return ADMINS_ROUTE
    return f"USER#{interest.viewer.user_id}"


def routes_of(event: FileEvent) -> tuple[str, ...]:
    """The keys whose subscriptions may want ``event``: bounded by the file's audience,
    never by how many connections exist."""
    users = sorted(event.audience())
    return (f"FILE#{event.file_id}", *(f"USER#{user}" for user in users), ADMINS_ROUTE)


@dataclass(frozen=True, slots=True)
class Connection:
    connection_id: str
    # Until connection_init is accepted there is no viewer.
    viewer: Principal | None = None
    # subscribe + complete messages counted in the current rate window.
    window: int = 0
    messages: int = 0


@dataclass(frozen=True, slots=True)
class StoredSubscription:
    connection_id: str
    subscription_id: str
    viewer: Principal
    route: str
    query: str
    variables: dict[str, object] | None = None
    operation_name: str | None = None


@dataclass(frozen=True, slots=True)
class StreamChange:
    """One committed item change, as the items table's change stream reports it."""

    sequence: str
    old: Item | None
    new: Item | None
    at: float | None  # epoch seconds the change was committed (approximately)


class ConnectionGoneError(DomainError):
    """The client went away: the connection and its subscriptions may be forgotten."""

    def __init__(self, connection_id: str) -> None:
        super().__init__("The connection is gone")
        self.connection_id = connection_id


class ConnectionGateway(Protocol):
    async def send(self, connection_id: str, message: dict[str, object]) -> None:
        """Raises ConnectionGoneError when the client is no longer connected."""
        ...

    async def close(self, connection_id: str, code: int, reason: str) -> None:
        """End the connection (``code``: the protocol's close code, 44xx)."""
        ...


# --- where connections live in their table ----------------------------------------------
#
#     item          pk              sk               gsi1pk            gsi1sk
#     connection    CONN#<conn id>  CONN             CONNUSER#<user>   <conn id>  (once acked)
#     subscription  CONN#<conn id>  SUB#<sub id>     <route>           <conn id>#<sub id>
#
# Every item carries ``expires_at`` (epoch seconds; the table's TTL attribute): a socket API
# Gateway dropped without a $disconnect, or whose token expired, is removed by DynamoDB.

_CONNECTION_SK = "CONN"
_SUBSCRIPTION_PREFIX = "SUB#"
_INDEX = "gsi1"
_PAGE = MAX_QUERY_LIMIT


def _partition(connection_id: str) -> str:
    return f"CONN#{connection_id}"


def _viewer_fields(viewer: Principal) -> Item:
    return {
        "user_id": viewer.user_id,
        "username": viewer.username,
        "email": viewer.email,
        "groups": list(viewer.groups),
        "token_use": viewer.token_use,
        "token_expires_at": None if viewer.expires_at is None else int(viewer.expires_at),
        "auth_time": viewer.auth_time,
    }


def _viewer_of(item: Item) -> Principal:
    expires = item.get("token_expires_at")
    return Principal(
        user_id=item["user_id"],
        username=item["username"],
        email=item.get("email"),
        groups=tuple(item.get("groups") or ()),
        token_use=item.get("token_use") or "id",
        expires_at=None if expires is None else float(expires),
        auth_time=item.get("auth_time"),
    )


def _subscription_of(item: Item) -> StoredSubscription:
    variables = item.get("variables")
    return StoredSubscription(
        connection_id=item["connection_id"],
        subscription_id=item["subscription_id"],
        viewer=_viewer_of(item),
        route=item["gsi1pk"],
        query=item["query"],
        variables=json.loads(variables) if variables else None,
        operation_name=item.get("operation_name"),
    )


class ConnectionRegistry:
    """Connections and their subscriptions over an ItemStore (on AWS its own DynamoDB
    table, so the items table's stream and backups never see sockets)."""

    def __init__(self, items: ItemStore) -> None:
        self._items = items

    async def open(self, connection_id: str, expires_at: int) -> None:
        key = Key(_partition(connection_id), _CONNECTION_SK)
        item: Item = {
            "pk": key.pk,
            "sk": key.sk,
            "connection_id": connection_id,
            "expires_at": expires_at,
        }
        await self._items.write([Put(item)])

    async def get(self, connection_id: str) -> Connection | None:
        (item,) = await self._items.get_many([Key(_partition(connection_id), _CONNECTION_SK)])
        if item is None:
            return None
        viewer = _viewer_of(item) if item.get("user_id") else None
        return Connection(connection_id, viewer, item.get("window") or 0, item.get("messages") or 0)

    async def acknowledge(self, connection_id: str, viewer: Principal, expires_at: int) -> None:
        item: Item = {
            "pk": _partition(connection_id),
            "sk": _CONNECTION_SK,
            "connection_id": connection_id,
            "expires_at": expires_at,
            **_viewer_fields(viewer),
            "gsi1pk": f"CONNUSER#{viewer.user_id}",
            "gsi1sk": connection_id,
        }
        # Only over a connection still open: a $disconnect that won the race stays final.
        await self._items.write([Put(item, condition=Exists())])

    async def count_for_user(self, user_id: str, now: float) -> int:
        """Acknowledged connections of ``user_id`` not yet expired (DynamoDB's TTL removes
        expired items only eventually)."""
        page = await self._items.query(f"CONNUSER#{user_id}", index=_INDEX, limit=_PAGE)
        return sum(1 for item in page.items if item.get("expires_at", 0) > now)

    async def count_message(self, connection_id: str, window: int, messages: int) -> None:
        stored = await self._items.get_many([Key(_partition(connection_id), _CONNECTION_SK)])
        if stored[0] is None:
            return
        await self._items.write(
            [Put({**stored[0], "window": window, "messages": messages}, condition=Exists())]
        )

    async def subscriptions_of(self, connection_id: str) -> list[StoredSubscription]:
        page = await self._items.query(
            _partition(connection_id), prefix=_SUBSCRIPTION_PREFIX, limit=_PAGE
        )
        return [_subscription_of(item) for item in page.items]

    async def add_subscription(self, subscription: StoredSubscription, expires_at: int) -> bool:
        key = Key(
            _partition(subscription.connection_id),
            f"{_SUBSCRIPTION_PREFIX}{subscription.subscription_id}",
        )
        item: Item = {
            "pk": key.pk,
            "sk": key.sk,
            "connection_id": subscription.connection_id,
            "subscription_id": subscription.subscription_id,
            **_viewer_fields(subscription.viewer),
            "query": subscription.query,
            # As text: variables may hold values (floats) the item port does not store.
            "variables": json.dumps(subscription.variables) if subscription.variables else None,
            "operation_name": subscription.operation_name,
            "expires_at": expires_at,
            "gsi1pk": subscription.route,
            "gsi1sk": f"{subscription.connection_id}#{subscription.subscription_id}",
        }
        try:
            await self._items.write([Put(item, condition=Absent())])
        except ConflictError:
            return False
        return True

    async def remove_subscription(self, connection_id: str, subscription_id: str) -> None:
        key = Key(_partition(connection_id), f"{_SUBSCRIPTION_PREFIX}{subscription_id}")
        await self._items.write([Delete(key)])

    async def subscribers(self, route: str) -> list[StoredSubscription]:
        found: list[StoredSubscription] = []
        cursor: str | None = None
        while True:
            page = await self._items.query(route, index=_INDEX, after=cursor, limit=_PAGE)
            found += [_subscription_of(item) for item in page.items]
            if page.cursor is None:
                return found
            cursor = page.cursor

    async def close(self, connection_id: str) -> None:
        page = await self._items.query(_partition(connection_id), limit=_PAGE)
        keys = [Key(item["pk"], item["sk"]) for item in page.items]
        for start in range(0, len(keys), MAX_WRITE_ITEMS):
            await self._items.write([Delete(key) for key in keys[start : start + MAX_WRITE_ITEMS]])
