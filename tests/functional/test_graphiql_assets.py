"""Real `npm pack` of Strawberry's pinned GraphiQL files, then served by the app.

Needs npm and the npm registry (or a warm npm cache); skipped only when npm is absent.
"""

import base64
import hashlib
import shutil
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import Message, Scope

from api.graphiql import GRAPHIQL_ASSETS_PATH, graphiql_assets_app, render_graphiql_html
from api.graphiql_assets import MANIFEST_NAME, CdnAsset, cdn_assets
from scripts.fetch_graphiql_assets import install

pytestmark = pytest.mark.skipif(
    shutil.which("npm") is None,
    reason="npm is not on PATH, so the GraphiQL assets cannot be fetched from the registry",
)

ASSETS = cdn_assets()
BASE = "http://testserver"


def sha384_sri(data: bytes) -> str:
    # Computed here, not with the code under test, so a shared bug cannot hide.
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


@pytest.fixture(scope="module")
def assets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("graphiql") / "vendor"
    assert install(dest, ASSETS) is True  # real npm, no fake
    return dest


@pytest.fixture
async def client(assets_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    # Wired the way api/app.py mounts it.
    app = Starlette(routes=[Mount(GRAPHIQL_ASSETS_PATH, app=graphiql_assets_app(assets_dir))])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


def test_fetch_installs_the_seven_files_strawberry_pins(assets_dir: Path) -> None:
    assert len(ASSETS) == 7
    for asset in ASSETS:
        assert sha384_sri((assets_dir / asset.key).read_bytes()) == asset.integrity
    assert (assets_dir / MANIFEST_NAME).is_file()
    assert install(assets_dir, ASSETS, pack=_no_npm) is False  # already there: no npm


def _no_npm(specs: object, workdir: object) -> dict[str, Path]:
    raise AssertionError("npm must not be called when the assets are already installed")


def _media_type(asset: CdnAsset) -> str:
    return "application/javascript" if asset.path.endswith(".js") else "text/css"


@pytest.mark.parametrize("asset", ASSETS, ids=[asset.key for asset in ASSETS])
async def test_each_asset_is_served_with_type_hash_and_cache_headers(
    client: httpx.AsyncClient, asset: CdnAsset
) -> None:
    response = await client.get(f"{GRAPHIQL_ASSETS_PATH}/{asset.key}")

    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == _media_type(asset)
    assert sha384_sri(response.content) == asset.integrity
    assert "immutable" in response.headers["cache-control"]
    assert response.headers["x-content-type-options"] == "nosniff"


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        url = attributes.get("src") if tag == "script" else attributes.get("href")
        if tag in ("script", "link") and attributes.get("integrity") and url:
            self.refs.append((url, str(attributes["integrity"])))


async def test_every_file_the_page_references_is_served_and_passes_its_sri(
    client: httpx.AsyncClient, assets_dir: Path
) -> None:
    parser = _Refs()
    parser.feed(render_graphiql_html(assets_dir=assets_dir))

    assert len(parser.refs) == 7
    for url, integrity in parser.refs:
        response = await client.get(urljoin(f"{BASE}/graphql", url))
        assert response.status_code == 200, url
        assert sha384_sri(response.content) == integrity  # what the browser will check


@pytest.mark.parametrize(
    "path",
    [
        "/",
        f"/{MANIFEST_NAME}",
        "/react@18.2.0/",
        "/react@18.2.0/umd/react.development.js",
        "/%2e%2e/%2e%2e/pyproject.toml",
        "/..%2f..%2fpyproject.toml",
        "/react@18.2.0/umd/react.production.min.js/",
    ],
)
async def test_unlisted_paths_and_traversal_get_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(f"{GRAPHIQL_ASSETS_PATH}{path}")
    assert response.status_code == 404


async def test_raw_dot_dot_path_gets_404(assets_dir: Path) -> None:
    # httpx normalises "../" away client-side; a raw HTTP client would not, so speak ASGI.
    app = graphiql_assets_app(assets_dir)
    sent: list[Message] = []

    requests: list[Message] = []

    async def receive() -> Message:
        # One request body, then the client goes away (a response may wait for that).
        if requests:
            return {"type": "http.disconnect"}
        requests.append({"type": "http.request", "body": b"", "more_body": False})
        return requests[0]

    async def send(message: Message) -> None:
        sent.append(message)

    for path in ("/../manifest.json", "/../../../../etc/passwd", "/react@18.2.0/../manifest.json"):
        scope: Scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [],
        }
        sent.clear()
        requests.clear()
        await app(scope, receive, send)
        assert sent[0]["status"] == 404, path
