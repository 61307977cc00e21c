"""Lambda SnapStart runtime hooks: warm the function before its snapshot, make each restored
copy its own after.

With SnapStart (infra/template.yaml: ``SnapStart: ApplyOn: PublishedVersions``) Lambda runs
the function's initialisation once, when a version is published, snapshots the memory, and
starts every later execution environment from that snapshot, possibly days later and many
at once. So:

- before the snapshot, everything a request needs should already be built (settings,
  adapters, boto3 clients with their service models, the Starlette app, the schema) and the
  request path exercised once: that is what restored environments then skip;
- after a restore, state that must differ per environment or that went stale must be
  renewed: the ``random`` module's generator (every copy would otherwise draw the same
  "random" numbers, e.g. the same retry jitter, retrying in lockstep) and pooled network
  connections (sockets from the snapshot lead nowhere). Closing a boto3 client's pools is
  enough: the client stays usable and opens fresh connections on its next call, and its
  credentials refresh themselves (under SnapStart Lambda serves them from a container
  endpoint, which botocore re-reads as they expire). Nothing else in the process holds a
  connection: JWKS fetches open one per fetch, and the cached keys are public and checked
  by ``kid`` anyway. ``uuid4``/``secrets`` read the kernel's generator, which Lambda
  reseeds on restore.

The Lambda Python runtime (3.12+) provides ``snapshot_restore_py``; elsewhere (a laptop, CI)
it is absent and :func:`register` does nothing, so importing this module is always safe.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

logger = logging.getLogger(__name__)

WARM_UP_PATH = "/healthz"
LambdaEntry = Callable[[dict[str, Any], Any], Mapping[str, Any]]
Register = Callable[..., Any]


class Closeable(Protocol):
    """What :func:`drop_connections` needs of a client: botocore's ``BaseClient.close``."""

    def close(self) -> None: ...


class WarmUpError(RuntimeError):
    """The warm-up request before the snapshot failed: better to fail publishing the
    version (the deployment stops, the old version keeps serving) than to snapshot a
    function that cannot answer."""


def runtime_hooks() -> tuple[Register, Register] | None:
    """``(register_before_snapshot, register_after_restore)`` from the Lambda runtime, or
    None where the runtime library is not installed."""
    try:
        from snapshot_restore_py import (  # type: ignore[import-not-found, unused-ignore]
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:
        return None
    return register_before_snapshot, register_after_restore


def register(
    *,
    prepare: Callable[[], object],
    connections: Callable[[], Iterable[Closeable]],
) -> bool:
    """Register both hooks with the runtime; return whether it has them.

    ``prepare`` builds (and may exercise, see :func:`warm_up`) what requests need;
    ``connections`` lists, when called after a restore, every boto3 client the process
    made. Call once, at import of the handler module: Lambda ignores hooks registered
    after initialisation.
    """
    hooks = runtime_hooks()
    if hooks is None:
        return False
    register_before_snapshot, register_after_restore = hooks
    register_before_snapshot(before_snapshot, prepare, connections)
    register_after_restore(after_restore, connections)
    return True


def before_snapshot(
    prepare: Callable[[], object], connections: Callable[[], Iterable[Closeable]]
) -> None:
    prepare()
    # Connections the preparation opened (none, unless it called AWS) would be dead after
    # a restore: the snapshot should not hold them at all.
    closed = drop_connections(connections())
    logger.info("snapstart: prepared for the snapshot (%d client(s))", closed)


def after_restore(connections: Callable[[], Iterable[Closeable]]) -> None:
    reseed_randomness()
    closed = drop_connections(connections())
    logger.info("snapstart: restored; reseeded randomness, reset %d client(s)", closed)


def reseed_randomness() -> None:
    """Reseed the ``random`` module's shared generator from the OS (``os.urandom``)."""
    random.seed()


def drop_connections(clients: Iterable[Closeable]) -> int:
    """Close every client's pooled connections; each reconnects on its next call."""
    count = 0
    for client in clients:
        client.close()
        count += 1
    return count


def warm_up(entry: LambdaEntry, path: str = WARM_UP_PATH) -> None:
    """Send one API Gateway HTTP API (2.0) ``GET path`` event through the function's own
    entry point: builds the handler and walks the request path (Mangum, Starlette,
    middleware, logging) without touching the network. Raises WarmUpError unless 200."""
    response = entry(http_api_event("GET", path), None)
    status = response.get("statusCode")
    if status != 200:
        raise WarmUpError(f"snapstart warm-up: GET {path} answered {status}, not 200")


def http_api_event(
    method: str, path: str, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A minimal payload-2.0 event, as API Gateway sends it for a public route."""
    host = "snapstart.warm-up.invalid"
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": host, "user-agent": "snapstart-warm-up", **(headers or {})},
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "warm-up",
            "domainName": host,
            "domainPrefix": "snapstart",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "snapstart-warm-up",
            },
            "requestId": "snapstart-warm-up",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 0,
        },
        "isBase64Encoded": False,
    }
