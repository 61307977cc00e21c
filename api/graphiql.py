"""GraphiQL served with its JS/CSS from this app, so the playground works without internet.

The assets are fetched by `python -m scripts.fetch_graphiql_assets` (never committed).
When they are missing, the page keeps Strawberry's CDN URLs and says how to go offline.
"""

import html
import posixpath
import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp

from api.graphiql_assets import (
    CdnAsset,
    assets_installed,
    cdn_assets,
    graphiql_template,
    read_manifest,
)
from api.graphiql_sign_in import sign_in_form_html, with_example_query, with_sign_in
from api.http_caching import digest, matches, not_modified
from api.http_errors import error_response

GRAPHIQL_ASSETS_PATH = "/graphiql-assets"
SIGN_IN_COMMAND = "demobackend token alice"
FETCH_COMMANDS = ("make assets", "python -m scripts.fetch_graphiql_assets")

_MEDIA_TYPES = {
    ".js": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# Every URL carries the package version, so a file never changes under its URL.
_CACHE_CONTROL = "public, max-age=31536000, immutable"

NOTICE_ID = "demobackend-notice"
# The template pins #graphiql to 100vh; stacking the notice above it in a flex column keeps
# GraphiQL's toolbar visible instead of covering it with an overlay.
_NOTICE_STYLE = f"""<style>
      body {{ display: flex; flex-direction: column; height: 100vh; }}
      #graphiql {{ flex: 1 1 auto; height: auto; min-height: 0; }}
      #{NOTICE_ID} {{
        font: 13px/1.5 system-ui, sans-serif; padding: 3px 12px;
        background: #fff8db; color: #3d3000; border-bottom: 1px solid #e5d38a;
      }}
      #{NOTICE_ID} p {{ margin: 0; }}
      #{NOTICE_ID} code {{ background: #0000000d; padding: 0 3px; border-radius: 3px; }}
    </style>
  </head>"""


def graphiql_assets_dir() -> Path:
    """Where the fetch script puts the assets by default (inside the package, gitignored)."""
    return Path(__file__).parent / "static" / "vendor" / "graphiql"


def _code(text: str) -> str:
    return f"<code>{html.escape(text, quote=False)}</code>"


def token_hint_html() -> str:
    # Headers stay `{}` on purpose: a placeholder there would be sent with every request
    # (and a non-JSON one makes GraphiQL refuse to run anything), so the hint lives here.
    header = '{"Authorization": "Bearer <token>"}'
    return (
        f"<p>Signed-in calls: run {_code(SIGN_IN_COMMAND)}, then put {_code(header)} "
        "in the Headers tab below the query editor.</p>"
    )


def offline_notice_html() -> str:
    make, script = FETCH_COMMANDS
    return (
        "<p>GraphiQL is loading from unpkg.com: offline use needs its assets, "
        f"fetch them with {_code(make)} (or {_code(script)}) and restart.</p>"
    )


def _asset_url(asset: CdnAsset, graphql_path: str) -> str:
    # Relative to the page, so it still resolves when the app sits under a prefix the app
    # never sees (API Gateway stage, reverse-proxy root_path); an absolute
    # "/graphiql-assets/..." would drop that prefix.
    target = f"{GRAPHIQL_ASSETS_PATH}/{asset.key}"
    return posixpath.relpath(target, start=posixpath.dirname(graphql_path) or "/")


def _inject_notice(page: str, paragraphs: list[str]) -> str:
    page = page.replace("</head>", _NOTICE_STYLE, 1)
    notice = f'\n    <div id="{NOTICE_ID}" role="note">{"".join(paragraphs)}</div>'
    return re.sub(r"<body[^>]*>", lambda m: m.group(0) + notice, page, count=1)


def render_graphiql_html(
    *, assets_dir: Path, graphql_path: str = "/graphql", sign_in: bool = False
) -> str:
    """Strawberry's GraphiQL page, pointed at our own copy of its assets when installed,
    opening on an example query.

    `graphql_path` is where the page is served, only used to build page-relative asset
    and sign-in URLs. `sign_in` (the local identity provider serves ``/auth/*``) puts a
    sign-in form above the editor instead of the ``demobackend token`` hint.
    Strawberry's template has no placeholders (the fetch URL comes from the browser's
    location): every change is a replacement that must find its anchor exactly once.
    """
    page = with_example_query(graphiql_template())
    assets = cdn_assets()
    paragraphs = [token_hint_html()]
    if sign_in:
        page = with_sign_in(page, graphql_path)
        paragraphs = [sign_in_form_html()]
    if assets_installed(assets_dir, assets):
        for asset in assets:
            # Only the URL changes: integrity and crossorigin stay, so the browser still
            # verifies each file (same-origin CORS requests need no extra headers).
            page = page.replace(f'"{asset.url}"', f'"{_asset_url(asset, graphql_path)}"')
    else:
        paragraphs.insert(0, offline_notice_html())
    return _inject_notice(page, paragraphs)


def graphiql_assets_app(assets_dir: Path) -> ASGIApp:
    """Serves exactly the files named in the assets manifest, for mounting at the prefix.

    Lookups are by exact manifest key, never by joining the request path onto the
    directory, so there is nothing to traverse and nothing to list.
    """
    manifest = read_manifest(assets_dir) or {}
    files: dict[str, tuple[Path, str, str]] = {}
    for key, integrity in manifest.items():
        media_type = _MEDIA_TYPES.get(posixpath.splitext(key)[1])
        path = assets_dir / key
        if media_type is not None and path.is_file():
            # The manifest's SRI hash is the content's: a strong validator for free.
            files[key] = (path, media_type, f'"{digest(integrity)}"')

    async def serve(request: Request) -> Response:
        found = files.get(request.path_params["path"])
        if found is None:
            return error_response(request, 404, "NOT_FOUND", "No such GraphiQL asset")
        path, media_type, etag = found
        headers = {
            "Cache-Control": _CACHE_CONTROL,
            "X-Content-Type-Options": "nosniff",
            "ETag": etag,
        }
        if matches(request, etag):
            return not_modified(headers)
        return FileResponse(path, media_type=media_type, headers=headers)

    return Router(routes=[Route("/{path:path}", serve, methods=["GET", "HEAD"])])
