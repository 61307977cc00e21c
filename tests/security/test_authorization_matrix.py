"""Every cell of the authorization matrix (tests/security/authorization_table.py) executed
on both backends — GraphQL rows against the real schema over the in-memory stores and over
DynamoDB + S3 on moto's server, REST rows against the whole app, local (its development
identity provider's tokens) and on the AWS composition (Cognito tokens) — plus the checks
that keep the table honest: it lists every field the schema serves, each probe really
selects the fields its row claims to check, and docs/AUTHORIZATION.md is the table's
rendering."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import graphql
import pytest
import pytest_asyncio
from starlette.routing import Route

from api.rest import rest_app
from resolvers.schema import build_schema, schema_sdl
from tests.security.authorization_table import (
    REST_ROWS,
    ROLES,
    ROWS,
    RestRow,
    Role,
    Row,
    render_markdown,
)
from tests.security.authz_multipart import MULTIPART_PROBES, MULTIPART_REST_PROBES
from tests.security.authz_probes import PROBES as QUERY_PROBES
from tests.security.authz_rest import REST_PROBES as FILE_REST_PROBES
from tests.security.authz_rest import RestWorld, open_world
from tests.security.authz_share_links import SHARE_LINK_PROBES, SHARE_LINK_REST_PROBES
from tests.security.authz_subscriptions import SUBSCRIPTION_PROBES
from tests.security.authz_world import World, build_world
from tests.support.aws_stores import Checkpoint, open_aws_stores, shared_clients
from tests.support.backends import AWS
from tests.support.rest import open_rest

DOCS_FILE = Path(__file__).resolve().parents[2] / "docs" / "AUTHORIZATION.md"
SCHEMA = graphql.build_schema(schema_sdl())
PROBES = QUERY_PROBES | SUBSCRIPTION_PROBES | SHARE_LINK_PROBES | MULTIPART_PROBES
REST_PROBES = FILE_REST_PROBES | SHARE_LINK_REST_PROBES | MULTIPART_REST_PROBES


@pytest.fixture(scope="module")
def authz_template(backend: str) -> Iterator[World]:
    # Built once per backend on a loop of its own (the stores are plain containers, or
    # boto3 clients called from threads); each case starts from it restored.
    with contextlib.ExitStack() as stack:
        aws = stack.enter_context(open_aws_stores()) if backend == AWS else None
        loop = asyncio.new_event_loop()
        try:
            yield loop.run_until_complete(build_world(aws))
        finally:
            loop.close()


@pytest.fixture
async def authz_world(authz_template: World) -> World:
    return await authz_template.restore()


def _cells() -> list[Any]:
    return [pytest.param(row, role, id=f"{row.id}-{role.value}") for row in ROWS for role in ROLES]


@pytest.mark.parametrize(("row", "role"), _cells())
async def test_graphql_cell(authz_world: World, row: Row, role: Role) -> None:
    probe = PROBES[(row.surface, row.via)]
    assert await probe.run(authz_world, role, row.case) == row.expected[role]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def authz_rest(
    tmp_path_factory: pytest.TempPathFactory, backend: str
) -> AsyncIterator[RestWorld]:
    # WARNING: a request log line per call would cost more than the calls themselves.
    # Every REST cell follows share links from one client address: the per-IP bucket on
    # /s/ would throttle later cells by what earlier ones followed (429 instead of the cell's
    # outcome), so this server lifts it, as the integration servers do.
    async with open_rest(
        tmp_path_factory.mktemp("authz-rest"),
        backend,
        log_level="WARNING",
        share_link_burst=10_000,
    ) as rest:
        world = await open_world(rest)
        if rest.aws is None:
            yield world
            return
        # Every cell makes files of its own: put the table back after each, or moto's
        # TransactWriteItems (which copies the whole table) slows with every cell.
        s3 = shared_clients(rest.aws.endpoint)[1]
        world.checkpoint = await Checkpoint(rest.deps.items, s3, rest.aws.stack.bucket).take()
        yield world


@pytest_asyncio.fixture(loop_scope="module")
async def rest_world(authz_rest: RestWorld) -> AsyncIterator[RestWorld]:
    yield authz_rest
    if authz_rest.checkpoint is not None:
        await authz_rest.checkpoint.restore()


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("row", "role"),
    [(row, role) for row in REST_ROWS for role in ROLES],
    ids=[f"{row.id}-{role.value}" for row in REST_ROWS for role in ROLES],
)
async def test_rest_cell(rest_world: RestWorld, row: RestRow, role: Role) -> None:
    assert await REST_PROBES[row.route](rest_world, role, row.case) == row.expected[role]


# --- the table cannot go stale ---


def _schema_coordinates() -> set[str]:
    return {
        f"{name}.{field}"
        for name, kind in SCHEMA.type_map.items()
        if isinstance(kind, graphql.GraphQLObjectType) and not name.startswith("__")
        for field in kind.fields
    }


def test_the_table_lists_every_field_the_schema_serves() -> None:
    listed = {coordinate for row in ROWS for coordinate in row.coordinates}
    served = _schema_coordinates()
    assert sorted(served - listed) == [], "add rows (or covers) for these fields"
    assert sorted(listed - served) == [], "these rows name fields the schema no longer has"


def test_every_root_field_has_rows_of_its_own() -> None:
    roots = {c for c in _schema_coordinates() if c.startswith(("Query.", "Mutation."))}
    assert roots <= {row.surface for row in ROWS}


def test_every_rest_route_has_rows() -> None:
    # Built only to read its routes: no request reaches the services or the verifier.
    app = rest_app(build_schema(), services=cast(Any, None), verifier=cast(Any, None))
    served = {
        f"{method} /rest{route.path}"
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert served == {row.route.partition("?")[0] for row in REST_ROWS}


def _selected(document: str) -> set[str]:
    """The Type.field coordinates a document selects (validated against the schema)."""
    ast = graphql.parse(document)
    assert graphql.validate(SCHEMA, ast) == []
    info = graphql.TypeInfo(SCHEMA)
    found: set[str] = set()

    class Fields(graphql.Visitor):
        def enter_field(self, node: graphql.FieldNode, *_: object) -> None:
            parent = info.get_parent_type()
            if parent is not None:
                found.add(f"{parent.name}.{node.name.value}")

    graphql.visit(ast, graphql.TypeInfoVisitor(info, Fields()))
    return found


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_each_row_probe_selects_what_the_row_claims(row: Row) -> None:
    probe = PROBES[(row.surface, row.via)]
    selected = set().union(*(_selected(document) for document in probe.documents))
    assert set(row.coordinates) <= selected


def test_every_probe_backs_a_row() -> None:
    assert set(PROBES) == {(row.surface, row.via) for row in ROWS}
    assert set(REST_PROBES) == {row.route for row in REST_ROWS}


def test_the_committed_docs_are_the_table() -> None:
    committed = DOCS_FILE.read_text(encoding="utf-8") if DOCS_FILE.exists() else ""
    assert committed == render_markdown(), (
        "docs/AUTHORIZATION.md is stale: write render_markdown() from "
        "tests/security/authorization_table.py to it"
    )
