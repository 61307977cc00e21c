"""Schemathesis in GraphQL mode against the real server process on loopback: for every query
and mutation field, a bounded number of generated documents (valid ones, and ones that
break the schema's types), sent with a valid token. None may answer 5xx, and no error in
any answer may be INTERNAL_SERVER_ERROR (a masked crash is still a crash).

ID arguments are drawn from the seeded users' and files' real ids as well as random text,
so the documents reach the resolvers rather than stopping at "invalid id"."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.security.fuzz_graphql_seed import Seeded, seed
from tests.support.server_process import RunningServer, running_server

MAX_EXAMPLES = 25  # per operation and generation mode
TIME_BUDGET_SECONDS = 180.0
INTERNAL_CODE = "INTERNAL_SERVER_ERROR"  # resolvers/errors.py


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Seeded]]:
    # WARNING: one INFO line per request would only slow the run; errors still get logged.
    data_dir = tmp_path_factory.mktemp("graphql-fuzz")
    with running_server(data_dir, DEMOBACKEND_LOG_LEVEL="WARNING") as server:
        yield server, seed(server.base_url)


def no_internal_error(ctx: Any, response: Any, case: Any) -> None:
    """The rule itself. Schemathesis' own not_a_server_error is not used: it counts any error
    with a ``path`` and a code it does not know (NOT_FOUND, FORBIDDEN) as a server error."""
    assert response.status_code < 500, f"status {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"not JSON: {response.text[:200]!r}") from None
    errors = (body.get("errors") or []) if isinstance(body, dict) else []
    codes = [(error.get("extensions") or {}).get("code") for error in errors]
    assert INTERNAL_CODE not in codes, errors
    assert "Traceback" not in response.text


@pytest.mark.slow
def test_generated_documents_never_crash_the_server(live: tuple[RunningServer, Seeded]) -> None:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from schemathesis.core.result import Ok
    from schemathesis.generation import GenerationMode
    from schemathesis.graphql import nodes
    from schemathesis.specs.graphql.scalars import CUSTOM_SCALARS

    # Despite its module, this check asks the operation's own schema (GraphQL here): a null
    # in a non-null field, a body that is not a GraphQL response.
    from schemathesis.specs.openapi.checks import response_schema_conformance

    server, seeded = live
    headers = {"Authorization": f"Bearer {seeded.token}"}
    schema = schemathesis.graphql.from_url(f"{server.base_url}/graphql", timeout=10)
    ids = st.one_of(st.sampled_from(seeded.ids), st.text(max_size=60)).map(nodes.String)
    previous_id_strategy = CUSTOM_SCALARS.get("ID")
    CUSTOM_SCALARS["ID"] = ids
    checks = [no_internal_error, response_schema_conformance]
    started = time.monotonic()
    ran: list[str] = []
    sent = 0
    try:
        for result in schema.get_all_operations():
            if not isinstance(result, Ok):
                pytest.fail(f"schemathesis could not read an operation: {result}")
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                if time.monotonic() - started > TIME_BUDGET_SECONDS:
                    pytest.fail(f"time budget spent after {len(ran)} runs: {ran}")

                @settings(
                    max_examples=MAX_EXAMPLES,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=operation.as_strategy(generation_mode=mode))
                def run(case: Any) -> None:
                    nonlocal sent
                    sent += 1
                    case.call_and_validate(headers=headers, checks=checks, timeout=10)

                run()
                ran.append(f"{operation.label}/{mode.value}")
    finally:
        if previous_id_strategy is None:
            CUSTOM_SCALARS.pop("ID", None)
        else:
            CUSTOM_SCALARS["ID"] = previous_id_strategy
    labels = {label.split("/")[0] for label in ran}
    # Every root field of the contract was fuzzed (schema.graphql: 8 queries, 7 mutations).
    assert len(labels) >= 15, sorted(labels)
    assert {"Query.search", "Mutation.updateFile", "Mutation.createUpload"} <= labels
    assert sent >= 300, sent  # far fewer would mean the generator stopped early
    assert server.process.poll() is None, "the server died during the run"
