"""Request overhead: one GraphQL query through the whole app vs the schema alone vs bare
graphql-core, over the same in-memory data, in one run.

The query is a page of 20 of the viewer's files with their owners:

    myFiles(first: 20) { edges { node { id name size owner { username } } } }

- **full app**: ``build_app(settings, deps)`` as shipped (request id, observability
  middleware with its JSON log line and Prometheus metrics, token verification, profile
  check, Strawberry's ASGI view, JSON in and out), in-process through httpx's
  ASGITransport; log lines go to /dev/null;
- **full app, direct ASGI**: the same app called as ASGI with a prepared scope and body
  and a ``send`` that keeps the response (no HTTP client): the app's own cost, which is
  what the 1.5x target is about; the httpx row above adds the client harness (~0.2 ms,
  mostly httpx's own per-request work);
- **strawberry**: ``schema.execute`` on the same schema and services with a ready
  Context (no HTTP, no token, no profile check);
- **app, observe=False** and **hello over httpx** (a Starlette route answering a fixed
  JSON body through the same client): to split the full app's time by difference into
  the client harness, the view/auth/Starlette layers, and observability;
- **graphql-core**: the same document over graphql-core alone: a schema of the five
  fields from SDL whose resolvers call the same FileService and a per-request DataLoader
  for owners (what Strawberry adds is its type layer, extensions, permission classes,
  and our resolvers' cursor signing).

Every kind parses and validates the document on every request (no parser cache in the
schema). Alternating, median of ``--runs`` samples of ``--requests`` sequential requests.
Target: full app <= 1.5x strawberry.

Run: `.venv/bin/python -m bench.request_overhead [--runs 15 --requests 40] [--profile full]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import inspect
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import graphql
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.dataloader import DataLoader

from adapters.blobs.memory import InMemoryBlobStore
from adapters.items.memory import InMemoryItemStore
from api.app import build_app
from api.bootstrap import Deps, build_deps, build_services
from api.observability.counting import CountingBlobStore, CountingItemStore
from api.settings import Settings, load_settings
from bench.figures import Figure
from domain.files import NewFile
from domain.ids import to_global_id
from domain.models import Principal, User
from domain.ports import MAX_BATCH_GET
from resolvers.context import Context
from resolvers.limits import QueryLimits
from resolvers.schema import build_schema
from resolvers.services import Services

COMMAND = ".venv/bin/python -m bench.request_overhead"
PAGE = 20
QUERY = "query Page { myFiles(first: 20) { edges { node { id name size owner { username } } } } }"
CONTENT = b"bench bytes\n"
CORE_SDL = """
type Query { myFiles(first: Int = 20): FileConnection! }
type FileConnection { edges: [FileEdge!]! }
type FileEdge { node: File! }
type File { id: ID! name: String! size: Float! owner: User! }
type User { username: String! }
"""
KINDS = (
    "full app",
    "full app, direct ASGI",
    "app, observe=False",
    "hello over httpx",
    "strawberry",
    "graphql-core",
)
TARGET = 1.5

Runner = Callable[[], Awaitable[None]]
CoreInfo = graphql.GraphQLResolveInfo[Any]


@dataclass(frozen=True)
class OverheadResult:
    runs: int
    requests: int
    per_request_ms: dict[str, float]  # kind -> median per-request time

    def ratio(self, kind: str, base: str) -> float:
        return self.per_request_ms[kind] / self.per_request_ms[base]


async def _seed(services: Services, memory_blobs: InMemoryBlobStore, viewer: Principal) -> None:
    await services.profiles.ensure_profile(viewer)
    digest = hashlib.sha256(CONTENT).hexdigest()
    for n in range(PAGE + 5):  # more than a page: hasNextPage is true, as in real use
        declared = NewFile(
            name=f"report-{n:03}.txt", content_type="text/plain", size=len(CONTENT), sha256=digest
        )
        record, _ = await services.files.create_upload(viewer, declared)
        memory_blobs.put_object(record.blob_key, CONTENT, "text/plain")
        await services.files.complete_upload(viewer, record.id)


def _core_schema() -> graphql.GraphQLSchema:
    schema = graphql.build_schema(CORE_SDL)

    async def my_files(_: None, info: CoreInfo, first: int) -> dict[str, Any]:
        context = info.context
        page = await context["services"].files.list_files_of(
            context["viewer"], context["viewer"].user_id, first=first
        )
        return {"edges": [{"node": record} for record in page.records]}

    def file_id(record: Any, _: CoreInfo) -> str:
        return to_global_id("File", record.id)

    async def owner(record: Any, info: CoreInfo) -> User | None:
        loader: DataLoader[str, User | None] = info.context["user_by_id"]
        return await loader.load(record.owner_id)

    query = schema.query_type
    assert query is not None
    query.fields["myFiles"].resolve = my_files
    file_type = schema.type_map["File"]
    assert isinstance(file_type, graphql.GraphQLObjectType)
    file_type.fields["id"].resolve = file_id
    file_type.fields["owner"].resolve = owner
    return schema


def _check(data: Any) -> None:
    edges = (data or {}).get("myFiles", {}).get("edges", [])
    if len(edges) != PAGE or edges[0]["node"]["owner"]["username"] != "bench":
        raise RuntimeError(f"unexpected answer: {str(data)[:200]}")


@dataclass
class Setup:
    settings: Settings
    deps: Deps
    token: str
    viewer: Principal


async def _setup(data_dir: str) -> Setup:
    settings = load_settings(data_dir=data_dir)
    base = build_deps(settings)  # for its identity provider and token verifier
    assert base.dev_idp is not None
    memory_blobs = InMemoryBlobStore()
    items, blobs = CountingItemStore(InMemoryItemStore()), CountingBlobStore(memory_blobs)
    # Wired by the composition root, over the in-memory store.
    services = build_services(settings, items, blobs, b"bench-cursor-key-0123456789abcdef")
    deps = dataclasses.replace(base, items=items, blobs=blobs, services=services, local_blobs=None)
    token = (await base.dev_idp.issue_tokens_for("bench")).id_token
    viewer = await base.verifier.verify(token)
    await _seed(services, memory_blobs, viewer)
    return Setup(settings, deps, token, viewer)


def _hello_app() -> Starlette:
    async def hello(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"data": {"hello": "world"}})

    return Starlette(routes=[Route("/graphql", hello, methods=["POST"])])


def _runners(
    setup: Setup, clients: dict[str, httpx.AsyncClient], apps: dict[str, Any]
) -> dict[str, Runner]:
    settings, services, viewer = setup.settings, setup.deps.services, setup.viewer
    headers = {"authorization": f"Bearer {setup.token}"}
    body = {"query": QUERY}
    limits = QueryLimits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_query_tokens,
        max_cost=settings.max_query_cost,
    )
    schema = build_schema(introspection=settings.introspection_enabled, limits=limits)
    core = _core_schema()

    def over_http(client: httpx.AsyncClient, *, check: bool = True) -> Runner:
        async def post() -> None:
            response = await client.post("/graphql", json=body, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
            if check:
                _check(response.json()["data"])

        return post

    def direct_asgi(app: Any) -> Runner:
        payload = json.dumps(body).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"b"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"authorization", headers["authorization"].encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("b", 80),
        }

        async def post() -> None:
            sent = False
            status = 0
            chunks: list[bytes] = []

            async def receive() -> dict[str, Any]:
                nonlocal sent
                if sent:
                    return {"type": "http.disconnect"}
                sent = True
                return {"type": "http.request", "body": payload, "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                elif message["type"] == "http.response.body":
                    chunks.append(message.get("body", b""))

            await app(dict(scope), receive, send)
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {b''.join(chunks)[:200]!r}")
            _check(json.loads(b"".join(chunks))["data"])

        return post

    async def bare_strawberry() -> None:
        context = Context(request_id="bench", services=services, principal=viewer)
        result = await schema.execute(QUERY, context_value=context)
        if result.errors:
            raise RuntimeError(str(result.errors))
        _check(result.data)

    async def bare_core() -> None:
        loader: DataLoader[str, User | None] = DataLoader(
            load_fn=services.users.get_many, max_batch_size=MAX_BATCH_GET
        )
        context = {"services": services, "viewer": viewer, "user_by_id": loader}
        # parse, validate, execute: what graphql.graphql() would do, but with the plain
        # executor (graphql() in 3.3 takes the heavier incremental one; Strawberry does not).
        document = graphql.parse(QUERY)
        invalid = graphql.validate(core, document)
        if invalid:
            raise RuntimeError(str(invalid))
        outcome = graphql.execute(core, document, context_value=context)
        result = await outcome if inspect.isawaitable(outcome) else outcome
        if result.errors:
            raise RuntimeError(str(result.errors))
        _check(result.data)

    return {
        "full app": over_http(clients["full app"]),
        "full app, direct ASGI": direct_asgi(apps["full app"]),
        "app, observe=False": over_http(clients["app, observe=False"]),
        "hello over httpx": over_http(clients["hello over httpx"], check=False),
        "strawberry": bare_strawberry,
        "graphql-core": bare_core,
    }


async def _per_request_ms(run: Runner, requests: int) -> float:
    started = time.perf_counter()
    for _ in range(requests):
        await run()
    return (time.perf_counter() - started) * 1000 / requests


@contextlib.asynccontextmanager
async def _session(data_dir: str) -> Any:
    setup = await _setup(data_dir)
    apps: dict[str, Any] = {
        "full app": build_app(setup.settings, setup.deps),
        "app, observe=False": build_app(setup.settings, setup.deps, observe=False),
        "hello over httpx": _hello_app(),
    }
    async with contextlib.AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b")
            )
            for name, app in apps.items()
        }
        yield _runners(setup, clients, apps)
    await setup.deps.aclose()


async def _measure(data_dir: str, runs: int, requests: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
    async with _session(data_dir) as runners:
        for run in runners.values():  # warm up: caches filled, code paths compiled
            await _per_request_ms(run, 5)
        for _ in range(runs):
            for kind in KINDS:
                samples[kind].append(await _per_request_ms(runners[kind], requests))
    return samples


def measure(runs: int = 15, requests: int = 40) -> OverheadResult:
    with tempfile.TemporaryDirectory() as data_dir:
        # The request log line goes to stdout: written, not shown.
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            samples = asyncio.run(_measure(data_dir, runs, requests))
    medians = {kind: statistics.median(times) for kind, times in samples.items()}
    return OverheadResult(runs, requests, medians)


def figures(result: OverheadResult, command: str = COMMAND) -> list[Figure]:
    ms = result.per_request_ms
    return [
        Figure(
            name="request overhead: full app vs strawberry",
            what="myFiles(first:20) with owners, the app called as ASGI (no HTTP client) "
            "vs schema.execute, per request",
            command=command,
            value=ms["full app, direct ASGI"],
            unit="ms",
            baseline=ms["strawberry"],
            baseline_what="bare schema.execute",
            target=TARGET,
        ),
        Figure(
            name="request overhead: full app through httpx vs strawberry",
            what="the same, with httpx's in-process client and ASGITransport in the loop",
            command=command,
            value=ms["full app"],
            unit="ms",
            baseline=ms["strawberry"],
            baseline_what="bare schema.execute",
        ),
        Figure(
            name="request overhead: strawberry vs graphql-core",
            what="the same page: Strawberry's layer over bare graphql-core, per request",
            command=command,
            value=ms["strawberry"],
            unit="ms",
            baseline=ms["graphql-core"],
            baseline_what="bare graphql-core",
        ),
    ]


def breakdown(result: OverheadResult) -> dict[str, float]:
    """Where the full app's time goes, by difference between the kinds (ms)."""
    ms = result.per_request_ms
    return {
        "schema execution (strawberry)": ms["strawberry"],
        "httpx client + ASGI transport (hello)": ms["hello over httpx"],
        "view, auth, Starlette (observe=False - strawberry - hello)": ms["app, observe=False"]
        - ms["strawberry"]
        - ms["hello over httpx"],
        "observability (full - observe=False)": ms["full app"] - ms["app, observe=False"],
    }


def report(result: OverheadResult) -> str:
    lines = [f"per request, median of {result.runs} x {result.requests} sequential requests"]
    for kind in KINDS:
        value = result.per_request_ms[kind]
        lines.append(
            f"  {kind:22s} {value:7.3f} ms   x strawberry {result.ratio(kind, 'strawberry'):.3f}"
            f"   x graphql-core {result.ratio(kind, 'graphql-core'):.3f}"
        )
    lines.append(f"  (target full app, direct ASGI / strawberry <= {TARGET}x)")
    lines.append("the full app's time, by difference:")
    for part, value in breakdown(result).items():
        lines.append(f"  {part:60s} {value:7.3f} ms")
    return "\n".join(lines)


async def _profile(data_dir: str, kind: str, requests: int) -> str:
    from pyinstrument import Profiler

    async with _session(data_dir) as runners:
        run = runners[kind]
        await _per_request_ms(run, 5)
        profiler = Profiler(interval=0.0002, async_mode="disabled")
        with profiler:
            await _per_request_ms(run, requests)
    text: str = profiler.output_text(unicode=False, color=False, show_all=False)
    return text


def profile(kind: str, requests: int = 300) -> str:
    with tempfile.TemporaryDirectory() as data_dir:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            return asyncio.run(_profile(data_dir, kind, requests))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument(
        "--profile", choices=KINDS, help="print a pyinstrument profile of one kind instead"
    )
    args = parser.parse_args(argv)
    if args.profile:
        print(profile(args.profile))
        return 0
    print(report(measure(args.runs, args.requests)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
