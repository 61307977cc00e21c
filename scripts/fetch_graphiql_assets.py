"""Fetch the files Strawberry's GraphiQL page loads from unpkg, so the playground works offline.

    python -m scripts.fetch_graphiql_assets [--dest DIR] [--strict]

Versions and SRI hashes come from the installed Strawberry template; each file is taken
from `npm pack` of that exact version and written only if it matches its hash. No npm or
no registry is not an error (the page falls back to the CDN) unless --strict; a file that
does not match its hash always is.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath

from api.graphiql import graphiql_assets_dir
from api.graphiql_assets import (
    MANIFEST_NAME,
    CdnAsset,
    assets_installed,
    cdn_assets,
    expected_manifest,
    sri_matches,
)

# (specs like "react@18.2.0", empty work dir) -> spec -> path of its tarball in that dir.
Pack = Callable[[Sequence[str], Path], Mapping[str, Path]]

NPM_TIMEOUT_SECONDS = 300
# The largest file (graphiql.min.js) is 3.5 MB; anything far bigger is not what we want.
MAX_FILE_BYTES = 32 * 1024 * 1024
# npm's defaults retry an unreachable registry for over a minute; an offline `make install`
# should give up in seconds. Only defaults: the user's own npm_config_* env still wins.
_NPM_ENV_DEFAULTS = {
    "npm_config_fetch_retries": "1",
    "npm_config_fetch_retry_mintimeout": "2000",
    "npm_config_fetch_retry_maxtimeout": "10000",
    "npm_config_update_notifier": "false",
    "npm_config_fund": "false",
    "npm_config_audit": "false",
}


class AssetsUnavailable(Exception):
    """npm or the registry cannot be reached: the page will use the CDN, install goes on."""


class IntegrityError(Exception):
    """A fetched file is not the one Strawberry's template pins: never install it."""


class DestinationError(Exception):
    """The destination exists and does not look like ours: refuse to replace it."""


def npm_pack(specs: Sequence[str], workdir: Path) -> dict[str, Path]:
    """Download the registry tarballs of `specs` into `workdir` with `npm pack`."""
    npm = shutil.which("npm")
    if npm is None:
        raise AssetsUnavailable("npm not found")
    env = {**_NPM_ENV_DEFAULTS, **os.environ}
    command = [
        npm,
        "pack",
        *specs,
        "--pack-destination",
        str(workdir),
        "--json",
        "--silent",
        "--ignore-scripts",
        # Pinned versions + our own hash check make a cached tarball as good as a fresh
        # one, and it lets a machine that fetched once reinstall offline.
        "--prefer-offline",
    ]
    try:
        # Specs come from Strawberry's template via a strict regex; no shell involved.
        result = subprocess.run(  # noqa: S603
            command,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_SECONDS,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AssetsUnavailable(f"npm pack timed out after {NPM_TIMEOUT_SECONDS}s") from None
    except OSError as error:
        raise AssetsUnavailable(f"npm could not run ({error})") from None
    try:
        report = json.loads(result.stdout)
    except ValueError:
        report = None
    if result.returncode != 0 or not isinstance(report, list):
        raise AssetsUnavailable(f"npm pack failed ({_npm_error_summary(report, result.stderr)})")
    tarballs: dict[str, Path] = {}
    for entry in report:
        if not isinstance(entry, dict):
            raise AssetsUnavailable("npm pack printed an unexpected report")
        filename = str(entry.get("filename", ""))
        if not filename or PurePosixPath(filename).name != filename or "\\" in filename:
            raise AssetsUnavailable(f"npm pack reported an odd file name {filename!r}")
        tarballs[f"{entry.get('name')}@{entry.get('version')}"] = workdir / filename
    return tarballs


def _npm_error_summary(report: object, stderr: str) -> str:
    if isinstance(report, dict) and isinstance(report.get("error"), dict):
        error = report["error"]
        return f"{error.get('code', 'error')}: {error.get('summary', '')}".strip()
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[0] if lines else "no output"


def extract_verified(tarball: Path, asset: CdnAsset) -> bytes:
    """The bytes of `asset.path` inside an npm tarball, only if they match the SRI hash.

    Reads just that member into memory (never `extract`), so entries such as
    `../../etc/x` or symlinks in the archive cannot write anything anywhere.
    """
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            # npm tarballs put everything under one top folder, almost always `package/`.
            members = [
                member
                for member in archive.getmembers()
                if "/".join(PurePosixPath(member.name).parts[1:]) == asset.path
            ]
            if len(members) != 1 or not members[0].isfile():
                raise IntegrityError(f"{tarball.name} has no single regular file {asset.path}")
            if members[0].size > MAX_FILE_BYTES:
                raise IntegrityError(f"{asset.key} is implausibly large ({members[0].size} B)")
            stream = archive.extractfile(members[0])
            if stream is None:
                raise IntegrityError(f"{tarball.name}: cannot read {asset.path}")
            data = stream.read()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise IntegrityError(f"{tarball.name} is not a readable npm tarball ({error})") from None
    if not sri_matches(asset.integrity, data):
        raise IntegrityError(f"{asset.key} does not match {asset.integrity}")
    return data


def _check_destination(dest: Path) -> None:
    # The whole dir gets replaced: only do that to an empty dir or one we wrote earlier.
    if not dest.exists():
        return
    if not dest.is_dir():
        raise DestinationError(f"{dest} exists and is not a directory")
    if any(dest.iterdir()) and not (dest / MANIFEST_NAME).is_file():
        raise DestinationError(f"refusing to replace {dest}: not empty and has no {MANIFEST_NAME}")


def _replace_dir(dest: Path, files: Mapping[str, bytes], manifest: Mapping[str, str]) -> None:
    """Swap a fully written staging dir in for `dest`: readers see old set or new set.

    Staging next to `dest` keeps the renames on one filesystem; a failure anywhere leaves
    `dest` as it was and no staging leftovers.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.staging-", dir=dest.parent))
    retired = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it 0700; the server may run as another user
        for key, data in files.items():
            target = staging / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        # Written last: its presence is what marks the set as complete.
        manifest_text = json.dumps(dict(manifest), indent=2, sort_keys=True) + "\n"
        (staging / MANIFEST_NAME).write_text(manifest_text, encoding="utf-8")
        if dest.exists():
            os.replace(dest, retired / "previous")
            try:
                os.replace(staging, dest)
            except OSError:
                os.replace(retired / "previous", dest)
                raise
        else:
            os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)


def install(dest: Path, assets: Sequence[CdnAsset], pack: Pack = npm_pack) -> bool:
    """Make `dest` hold exactly `assets`, verified. False if it already did (no npm call)."""
    if assets_installed(dest, assets, verify_hashes=True):
        return False
    _check_destination(dest)
    specs = sorted({asset.spec for asset in assets})
    with tempfile.TemporaryDirectory(prefix="graphiql-npm-pack-") as workdir:
        tarballs = pack(specs, Path(workdir))
        missing = [spec for spec in specs if spec not in tarballs]
        if missing:
            raise AssetsUnavailable(f"npm pack returned nothing for {', '.join(missing)}")
        # Everything is verified in memory before the destination is touched.
        files = {asset.key: extract_verified(tarballs[asset.spec], asset) for asset in assets}
    _replace_dir(dest, files, expected_manifest(assets))
    return True


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def run(dest: Path, assets: Sequence[CdnAsset], pack: Pack = npm_pack, strict: bool = False) -> int:
    """Install and report in one line; the exit status for the command line."""
    started = time.monotonic()
    try:
        fetched = install(dest, assets, pack)
    except AssetsUnavailable as error:
        print(
            f"GraphiQL assets not installed: {error}; the playground will load from the CDN",
            file=sys.stderr,
        )
        return 1 if strict else 0
    except IntegrityError as error:
        print(
            f"GraphiQL assets REJECTED, possible tampering: {error}. Nothing was installed.",
            file=sys.stderr,
        )
        return 2
    except (DestinationError, OSError) as error:
        print(f"GraphiQL assets not installed: {error}", file=sys.stderr)
        return 1
    if not fetched:
        print(f"GraphiQL assets up to date in {_shown(dest)}")
        return 0
    size = sum((dest / asset.key).stat().st_size for asset in assets)
    print(
        f"GraphiQL assets installed: {len(assets)} files, {size / 1e6:.1f} MB verified, "
        f"in {_shown(dest)} ({time.monotonic() - started:.1f}s)"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--dest",
        type=Path,
        default=graphiql_assets_dir(),
        help="target directory (default: the one the app serves, api/static/vendor/graphiql)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 1) when npm or the registry is unavailable, e.g. for release builds",
    )
    args = parser.parse_args(argv)
    try:
        assets = cdn_assets()
    except ValueError as error:
        print(f"GraphiQL assets not installed: {error}", file=sys.stderr)
        return 1
    return run(args.dest, assets, strict=args.strict)


if __name__ == "__main__":
    sys.exit(main())
