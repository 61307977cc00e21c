"""The CDN files Strawberry's GraphiQL page loads, as Strawberry's own template pins them.

The list (package, version, file, SRI hash) is parsed from the installed Strawberry
template rather than copied here: a Strawberry upgrade that moves versions is followed
automatically, and the hashes we trust are Strawberry's, not ours. Shared by the page
renderer (api.graphiql) and the fetch script (scripts.fetch_graphiql_assets).
"""

import base64
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

from strawberry.http.ides import get_graphql_ide_html

MANIFEST_NAME = "manifest.json"

# Exact versions only: a range (graphiql@3) would let npm and unpkg resolve different
# files, and the SRI hash could never match both.
_UNPKG_URL = re.compile(
    r"https://unpkg\.com/"
    r"(?P<package>(?:@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*)"
    r"@(?P<version>\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)"
    r"/(?P<path>[A-Za-z0-9@._+-]+(?:/[A-Za-z0-9@._+-]+)*)"
)
_SRI = re.compile(r"(?P<algorithm>sha256|sha384|sha512)-(?P<digest>[A-Za-z0-9+/]+={0,2})")


@dataclass(frozen=True)
class CdnAsset:
    """One file the GraphiQL page loads from unpkg."""

    url: str
    package: str
    version: str
    path: str
    integrity: str

    @property
    def spec(self) -> str:
        """What `npm pack` is asked for."""
        return f"{self.package}@{self.version}"

    @property
    def key(self) -> str:
        """Where the file lives under the assets dir and the assets URL prefix.

        Mirrors unpkg's layout, so two packages' `dist/style.css` cannot collide and the
        version in the path makes every URL content-addressed (safe to cache forever).
        """
        return f"{self.package}@{self.version}/{self.path}"


def is_safe_key(key: str) -> bool:
    """Whether `key` is a plain relative path that cannot leave the assets dir."""
    if not key or "\\" in key or "\0" in key:
        return False
    path = PurePosixPath(key)
    return not path.is_absolute() and all(part not in ("", ".", "..") for part in key.split("/"))


def sri_matches(integrity: str, data: bytes) -> bool:
    """Whether `data` hashes to the single-hash SRI value `integrity`."""
    match = _SRI.fullmatch(integrity)
    if match is None:
        return False
    digest = hashlib.new(match["algorithm"], data).digest()
    return base64.b64encode(digest).decode("ascii") == match["digest"]


class _ExternalRefCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        url = attributes.get("src") if tag == "script" else attributes.get("href")
        if tag in ("script", "link") and url and url.startswith(("http://", "https://", "//")):
            self.refs.append(attributes)


def parse_cdn_assets(html: str) -> list[CdnAsset]:
    """Every external script/stylesheet in `html`, in page order.

    Raises ValueError for an external reference we could not self-host safely (not a
    pinned unpkg URL, or no SRI hash): silently leaving it on the CDN would make the
    "works offline" promise false without anyone noticing.
    """
    collector = _ExternalRefCollector()
    collector.feed(html)
    collector.close()
    assets: list[CdnAsset] = []
    for attributes in collector.refs:
        url = attributes.get("src") or attributes.get("href") or ""
        match = _UNPKG_URL.fullmatch(url)
        if match is None or not is_safe_key(match["path"]):
            raise ValueError(f"GraphiQL template loads {url!r}, which is not a pinned unpkg URL")
        integrity = (attributes.get("integrity") or "").strip()
        if _SRI.fullmatch(integrity) is None:
            raise ValueError(f"GraphiQL template loads {url!r} without a single SRI hash")
        assets.append(
            CdnAsset(
                url=url,
                package=match["package"],
                version=match["version"],
                path=match["path"],
                integrity=integrity,
            )
        )
    return assets


@cache
def graphiql_template() -> str:
    """Strawberry's GraphiQL page, read through the helper Strawberry itself uses."""
    return get_graphql_ide_html(graphql_ide="graphiql")


@cache
def cdn_assets() -> tuple[CdnAsset, ...]:
    """The files the installed Strawberry's GraphiQL page loads from the CDN."""
    return tuple(parse_cdn_assets(graphiql_template()))


def expected_manifest(assets: Sequence[CdnAsset]) -> dict[str, str]:
    return {asset.key: asset.integrity for asset in assets}


def read_manifest(assets_dir: Path) -> dict[str, str] | None:
    """The `key -> SRI` map in `assets_dir`, or None if absent or not trustworthy."""
    try:
        raw = json.loads((assets_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    manifest: dict[str, str] = {}
    for key, integrity in raw.items():
        if not (isinstance(key, str) and isinstance(integrity, str) and is_safe_key(key)):
            return None
        manifest[key] = integrity
    return manifest


def assets_installed(
    assets_dir: Path, assets: Sequence[CdnAsset], *, verify_hashes: bool = False
) -> bool:
    """Whether `assets_dir` holds every file in `assets`, as recorded by its manifest.

    The page renderer skips hashing (the browser checks SRI anyway, and it would cost
    cold-start time); the fetch script hashes, since it decides whether to trust them.
    """
    manifest: Mapping[str, str] | None = read_manifest(assets_dir)
    if manifest is None or not assets:
        return False
    for asset in assets:
        if manifest.get(asset.key) != asset.integrity:
            return False
        file = assets_dir / asset.key
        if not file.is_file():
            return False
        if verify_hashes and not sri_matches(asset.integrity, file.read_bytes()):
            return False
    return True
