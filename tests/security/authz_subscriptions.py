"""How the matrix observes ``Subscription.fileEvents``: subscribe as a role, let the owner
change the file, and see what reaches the subscriber. Errors get the codes the WebSocket
handler gives them (api/subscriptions.py translates each result with translate_error)."""

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any

from resolvers.context import Context
from resolvers.errors import translate_error
from tests.security.authorization_table import Case, Outcome, Role
from tests.security.authz_probes import Observed, Probe, refusal, unexpected
from tests.security.authz_world import PRINCIPALS, World
from tests.support.schema_client import GraphQLResult

EVENT_FIELDS = "kind fileId version at file { id name }"
ONE_FILE = f"subscription($id: ID) {{ fileEvents(fileId: $id) {{ {EVENT_FIELDS} }} }}"
ALL_FILES = f"subscription {{ fileEvents {{ {EVENT_FIELDS} }} }}"
TOUCH = 'mutation($id: ID!) { updateFile(input: {id: $id, description: "touched"}) { id } }'
# Long enough for an event published in-process to be read; absence is waited out once.
_SETTLE_SECONDS = 0.05
_EVENT_SECONDS = 0.5


def _result(raw: Any) -> GraphQLResult:
    errors = [
        dict(translate_error(error, "req-test", hide_suggestions=False).formatted)
        for error in raw.errors or []
    ]
    return GraphQLResult(data=raw.data, errors=errors)


async def _observe(world: World, role: Role, case: Case, document: str) -> Observed:
    context = Context(
        request_id="req-test", services=world.client.services, principal=PRINCIPALS[role]
    )
    variables = {"id": world.files[case]} if document is ONE_FILE else {}
    stream: AsyncGenerator[Any, None] = await world.client.schema.subscribe(
        document, variable_values=variables, context_value=context
    )
    first = asyncio.ensure_future(anext(stream))
    try:
        await asyncio.wait({first}, timeout=_SETTLE_SECONDS)
        if not first.done():  # subscribed: now the owner changes the file
            touched = await world.run(TOUCH, Role.OWNER, {"id": world.files[case]})
            assert touched.errors == [], touched.errors
            await asyncio.wait({first}, timeout=_EVENT_SECONDS)
        if not first.done():
            return Outcome.HIDDEN
        result = _result(first.result())
        refused = refusal(result)
        if refused is not None:
            return refused
        event = result.data["fileEvents"]
        wanted = {key: world.reference[case][key] for key in ("id", "name")}
        if event["kind"] == "UPDATED" and event["fileId"] == wanted["id"]:
            if event["file"] == wanted:
                return Outcome.ALLOW if document is ONE_FILE else Outcome.LISTED
        return unexpected(event)
    finally:
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first  # the generator is free again once its pending read is cancelled
        await stream.aclose()


async def _one_file(world: World, role: Role, case: Case) -> Observed:
    return await _observe(world, role, case, ONE_FILE)


async def _all_files(world: World, role: Role, case: Case) -> Observed:
    return await _observe(world, role, case, ALL_FILES)


SUBSCRIPTION_PROBES: dict[tuple[str, str], Probe] = {
    ("Subscription.fileEvents", "fileId: the file"): Probe((ONE_FILE,), _one_file),
    ("Subscription.fileEvents", "no fileId"): Probe((ALL_FILES,), _all_files),
}
