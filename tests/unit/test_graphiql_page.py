"""The GraphiQL page points at our own assets when installed, at the CDN (with a notice) if not."""

import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest

from api.graphiql import GRAPHIQL_ASSETS_PATH, NOTICE_ID, render_graphiql_html
from api.graphiql_assets import MANIFEST_NAME, cdn_assets
from api.graphiql_sign_in import (
    EXAMPLE_QUERY,
    SIGN_IN_ID,
    TemplateChangedError,
    with_example_query,
    with_sign_in,
)

ASSETS = cdn_assets()
PAGE_URL = "http://testserver/graphql"
OFFLINE_MARKERS = ("make assets", "python -m scripts.fetch_graphiql_assets")
TOKEN_MARKERS = ("demobackend token alice", "Authorization", "Bearer")


class _Refs(HTMLParser):
    """Script/stylesheet tags as the browser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[dict[str, str | None]] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.append(str(attributes["id"]))
        if tag == "script" and attributes.get("src"):
            self.tags.append({**attributes, "url": attributes["src"]})
        if tag == "link" and attributes.get("rel") == "stylesheet":
            self.tags.append({**attributes, "url": attributes["href"]})


def _refs(page: str) -> _Refs:
    parser = _Refs()
    parser.feed(page)
    return parser


def _install_fake(assets_dir: Path) -> None:
    # Contents do not matter to the renderer: the browser checks SRI, not us.
    for asset in ASSETS:
        (assets_dir / asset.key).parent.mkdir(parents=True, exist_ok=True)
        (assets_dir / asset.key).write_bytes(b"/* fake */")
    manifest = {asset.key: asset.integrity for asset in ASSETS}
    (assets_dir / MANIFEST_NAME).write_text(json.dumps(manifest))


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    _install_fake(tmp_path)
    return tmp_path


def test_installed_assets_are_loaded_from_the_app_with_the_same_sri(installed: Path) -> None:
    page = render_graphiql_html(assets_dir=installed)
    tags = _refs(page).tags

    assert "unpkg.com" not in page
    assert len(tags) == len(ASSETS) == 7
    by_integrity = {tag["integrity"]: tag for tag in tags}
    for asset in ASSETS:
        tag = by_integrity[asset.integrity]
        resolved = urljoin(PAGE_URL, str(tag["url"]))
        assert resolved == f"http://testserver{GRAPHIQL_ASSETS_PATH}/{asset.key}"
        # SRI on a crossorigin tag needs a CORS-mode fetch; same-origin satisfies it.
        assert "crossorigin" in tag


def test_asset_urls_follow_a_prefixed_graphql_path(installed: Path) -> None:
    # e.g. API Gateway stage "/prod" or a root_path the app itself never sees.
    page = render_graphiql_html(assets_dir=installed, graphql_path="/graphql")
    for tag in _refs(page).tags:
        resolved = urljoin("https://api.example.com/prod/graphql", str(tag["url"]))
        assert resolved.startswith(f"https://api.example.com/prod{GRAPHIQL_ASSETS_PATH}/")

    nested = render_graphiql_html(assets_dir=installed, graphql_path="/api/graphql")
    for tag in _refs(nested).tags:
        resolved = urljoin("http://testserver/api/graphql", str(tag["url"]))
        assert resolved.startswith(f"http://testserver{GRAPHIQL_ASSETS_PATH}/")


def test_installed_page_has_no_offline_notice(installed: Path) -> None:
    page = render_graphiql_html(assets_dir=installed)
    for marker in OFFLINE_MARKERS:
        assert marker not in page


def test_without_assets_the_page_uses_the_cdn_and_says_how_to_go_offline(tmp_path: Path) -> None:
    page = render_graphiql_html(assets_dir=tmp_path)

    urls = {str(tag["url"]) for tag in _refs(page).tags}
    assert urls == {asset.url for asset in ASSETS}
    for asset in ASSETS:
        assert f'integrity="{asset.integrity}"' in page
    for marker in OFFLINE_MARKERS:
        assert marker in page


@pytest.mark.parametrize("damage", ["missing_file", "other_hash", "no_manifest", "bad_json"])
def test_incomplete_or_stale_install_falls_back_to_the_cdn(installed: Path, damage: str) -> None:
    asset = ASSETS[-1]
    manifest_path = installed / MANIFEST_NAME
    if damage == "missing_file":
        (installed / asset.key).unlink()
    elif damage == "other_hash":  # e.g. Strawberry upgraded since the fetch
        manifest = json.loads(manifest_path.read_text())
        manifest[asset.key] = "sha384-" + "A" * 64
        manifest_path.write_text(json.dumps(manifest))
    elif damage == "no_manifest":
        manifest_path.unlink()
    else:
        manifest_path.write_text("{not json")

    page = render_graphiql_html(assets_dir=installed)

    assert {str(tag["url"]) for tag in _refs(page).tags} == {a.url for a in ASSETS}
    assert OFFLINE_MARKERS[0] in page


@pytest.mark.parametrize("install", [True, False], ids=["local", "cdn"])
def test_token_hint_is_visible_and_headers_are_left_valid(tmp_path: Path, install: bool) -> None:
    if install:
        _install_fake(tmp_path)
    page = render_graphiql_html(assets_dir=tmp_path)
    refs = _refs(page)

    assert NOTICE_ID in refs.ids
    assert refs.ids.index(NOTICE_ID) < refs.ids.index("graphiql")  # above, not over it
    notice = page[page.index(f'id="{NOTICE_ID}"') : page.index('id="graphiql"')]
    for marker in TOKEN_MARKERS:
        assert marker in notice
    # The headers pane must be on, and must not be pre-filled with a placeholder that
    # would be sent with (or break) every request.
    assert "isHeadersEditorEnabled: true" in page
    assert "headers: headers," in page
    assert "Bearer <" not in page  # the only "<token>" is escaped text in the notice


@pytest.mark.parametrize("install", [True, False], ids=["local", "cdn"])
def test_no_template_placeholder_is_left(tmp_path: Path, install: bool) -> None:
    if install:
        _install_fake(tmp_path)
    page = render_graphiql_html(assets_dir=tmp_path)
    assert "{{" not in page
    assert "}}" not in page


def test_the_editor_opens_on_the_example_query(tmp_path: Path) -> None:
    page = render_graphiql_html(assets_dir=tmp_path)
    assert f"const EXAMPLE_QUERY = {json.dumps(EXAMPLE_QUERY)};" in page
    assert "Welcome to GraphiQL" not in page


def test_with_the_local_identity_provider_the_notice_is_a_sign_in_form(tmp_path: Path) -> None:
    _install_fake(tmp_path)
    page = render_graphiql_html(assets_dir=tmp_path, sign_in=True, graphql_path="/api/graphql")
    notice = page[page.index(f'id="{NOTICE_ID}"') : page.index('id="graphiql"')]
    assert f'id="{SIGN_IN_ID}"' in notice
    assert "demobackend token alice" not in notice
    # Page-relative, like the assets: /api/graphql signs in at /auth/token.
    assert urljoin("http://testserver/api/graphql", "../auth/token") == (
        "http://testserver/auth/token"
    )
    assert '"../auth/token"' in page and '"../auth/signup"' in page
    # The session's script is defined before GraphiQL builds its fetcher on it.
    assert page.index("const demobackendSession") < page.index(
        "GraphiQL.createFetcher({ fetch: demobackendSession.fetch,"
    )
    assert "sessionStorage.setItem" in page
    assert "localStorage" not in page


@pytest.mark.parametrize("change", [with_example_query, lambda page: with_sign_in(page, "/")])
def test_a_template_without_the_anchors_is_refused_loudly(change: object) -> None:
    assert callable(change)
    with pytest.raises(TemplateChangedError):
        change("<html><head><style></style></head><body></body></html>")
