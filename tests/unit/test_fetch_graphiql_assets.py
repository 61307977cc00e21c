"""The fetch script: what it reads from Strawberry, what it trusts, and when it calls npm.

npm is replaced by `FakePack`, which builds tarballs shaped like `npm pack` output.
"""

import base64
import dataclasses
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from api.graphiql_assets import (
    MANIFEST_NAME,
    CdnAsset,
    graphiql_template,
    parse_cdn_assets,
)
from scripts.fetch_graphiql_assets import (
    AssetsUnavailable,
    DestinationError,
    IntegrityError,
    extract_verified,
    install,
    main,
    run,
)

GOOD = b"console.log('the real thing');\n"


def sri384(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


ASSET = CdnAsset(
    url="https://unpkg.com/left-pad@1.3.0/dist/left-pad.min.js",
    package="left-pad",
    version="1.3.0",
    path="dist/left-pad.min.js",
    integrity=sri384(GOOD),
)
SCOPED = CdnAsset(
    url="https://unpkg.com/@demo/explorer@2.0.0/dist/style.css",
    package="@demo/explorer",
    version="2.0.0",
    path="dist/style.css",
    integrity=sri384(b"body{}"),
)


def make_tarball(path: Path, members: Mapping[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


class FakePack:
    """Stands in for `npm_pack`: serves prepared package contents, records calls."""

    def __init__(self, packages: Mapping[str, Mapping[str, bytes]]) -> None:
        self.packages = packages
        self.calls: list[list[str]] = []

    def __call__(self, specs: Sequence[str], workdir: Path) -> dict[str, Path]:
        self.calls.append(list(specs))
        return {
            spec: make_tarball(workdir / f"{i}.tgz", self.packages[spec])
            for i, spec in enumerate(specs)
        }


def good_pack() -> FakePack:
    return FakePack(
        {
            ASSET.spec: {"package/dist/left-pad.min.js": GOOD, "package/README.md": b"x"},
            SCOPED.spec: {"package/dist/style.css": b"body{}"},
        }
    )


def listing(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# --- parsing Strawberry's template ---------------------------------------------------


def test_strawberry_template_yields_seven_pinned_sha384_assets() -> None:
    assets = parse_cdn_assets(graphiql_template())

    assert len(assets) == 7
    assert all(asset.integrity.startswith("sha384-") for asset in assets)
    assert len({asset.key for asset in assets}) == 7
    assert {asset.package for asset in assets} == {
        "react",
        "react-dom",
        "js-cookie",
        "graphiql",
        "@graphiql/plugin-explorer",
    }
    for asset in assets:
        assert asset.url == f"https://unpkg.com/{asset.key}"
        assert asset.version[0].isdigit()


@pytest.mark.parametrize(
    ("url", "integrity"),
    [
        ("https://unpkg.com/graphiql/graphiql.min.js", "sha384-AAAA"),
        ("https://unpkg.com/graphiql@^3/graphiql.min.js", "sha384-AAAA"),
        ("https://unpkg.com/graphiql@3.8.3/graphiql.min.js", None),
        ("https://unpkg.com/graphiql@3.8.3/graphiql.min.js", "md5-AAAA"),
        ("https://cdn.example.com/graphiql@3.8.3/graphiql.min.js", "sha384-AAAA"),
        ("https://unpkg.com/x@1.0.0/../../etc/passwd", "sha384-AAAA"),
    ],
    ids=["unversioned", "range", "no-sri", "weak-sri", "other-cdn", "traversal"],
)
def test_parsing_refuses_what_it_could_not_self_host(url: str, integrity: str | None) -> None:
    sri = f' integrity="{integrity}"' if integrity else ""
    with pytest.raises(ValueError):
        parse_cdn_assets(f'<html><head><script src="{url}"{sri}></script></head></html>')
    with pytest.raises(ValueError):
        parse_cdn_assets(f'<html><head><link rel="stylesheet" href="{url}"{sri}></head></html>')


# --- extraction -----------------------------------------------------------------------


def test_extraction_returns_the_file_when_its_hash_matches(tmp_path: Path) -> None:
    tarball = make_tarball(tmp_path / "p.tgz", {"package/dist/left-pad.min.js": GOOD})
    assert extract_verified(tarball, ASSET) == GOOD


def test_extraction_rejects_a_file_whose_hash_does_not_match(tmp_path: Path) -> None:
    tarball = make_tarball(tmp_path / "p.tgz", {"package/dist/left-pad.min.js": b"evil()"})
    with pytest.raises(IntegrityError, match="does not match"):
        extract_verified(tarball, ASSET)


def test_extraction_rejects_missing_member_and_symlink(tmp_path: Path) -> None:
    missing = make_tarball(tmp_path / "m.tgz", {"package/dist/other.js": GOOD})
    with pytest.raises(IntegrityError):
        extract_verified(missing, ASSET)

    with tarfile.open(tmp_path / "s.tgz", "w:gz") as archive:
        link = tarfile.TarInfo("package/dist/left-pad.min.js")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)
    with pytest.raises(IntegrityError):
        extract_verified(tmp_path / "s.tgz", ASSET)


def test_install_writes_only_the_named_file_whatever_the_tarball_holds(tmp_path: Path) -> None:
    pack = FakePack(
        {
            ASSET.spec: {
                "package/dist/left-pad.min.js": GOOD,
                "package/../../escaped.js": b"nope",
                "/abs.js": b"nope",
            },
            SCOPED.spec: {"package/dist/style.css": b"body{}"},
        }
    )
    dest = tmp_path / "site" / "vendor"

    assert install(dest, [ASSET, SCOPED], pack) is True

    assert listing(tmp_path) == [
        "site/vendor/@demo/explorer@2.0.0/dist/style.css",
        "site/vendor/left-pad@1.3.0/dist/left-pad.min.js",
        f"site/vendor/{MANIFEST_NAME}",
    ]
    assert (dest / ASSET.key).read_bytes() == GOOD
    manifest = json.loads((dest / MANIFEST_NAME).read_text())
    assert manifest == {ASSET.key: ASSET.integrity, SCOPED.key: SCOPED.integrity}


def test_a_tampered_file_installs_nothing_and_keeps_the_previous_set(tmp_path: Path) -> None:
    dest = tmp_path / "vendor"
    install(dest, [ASSET, SCOPED], good_pack())
    before = {name: (dest / name).read_bytes() for name in listing(dest)}
    upgraded = dataclasses.replace(ASSET, version="1.3.1")
    tampered = FakePack(
        {
            upgraded.spec: {"package/dist/left-pad.min.js": b"evil()"},
            SCOPED.spec: {"package/dist/style.css": b"body{}"},
        }
    )

    with pytest.raises(IntegrityError):
        install(dest, [upgraded, SCOPED], tampered)

    assert {name: (dest / name).read_bytes() for name in listing(dest)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vendor"]  # no staging leftovers


def test_tampering_exits_non_zero_and_unavailable_npm_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tampered = FakePack({ASSET.spec: {"package/dist/left-pad.min.js": b"evil()"}})
    assert run(tmp_path / "a", [ASSET], tampered) == 2
    assert "REJECTED" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()

    def offline(specs: Sequence[str], workdir: Path) -> dict[str, Path]:
        raise AssetsUnavailable("npm pack failed (ENOTFOUND)")

    assert run(tmp_path / "b", [ASSET], offline) == 0
    assert run(tmp_path / "b", [ASSET], offline, strict=True) == 1
    assert not (tmp_path / "b").exists()


def test_without_npm_on_path_one_line_and_exit_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))

    assert main(["--dest", str(tmp_path / "vendor")]) == 0

    captured = capsys.readouterr()
    lines = (captured.out + captured.err).strip().splitlines()
    assert lines == [
        "GraphiQL assets not installed: npm not found; the playground will load from the CDN"
    ]
    assert not (tmp_path / "vendor").exists()


# --- idempotence ----------------------------------------------------------------------


def test_second_run_with_valid_files_does_not_call_npm(tmp_path: Path) -> None:
    dest = tmp_path / "vendor"
    pack = good_pack()

    assert install(dest, [ASSET, SCOPED], pack) is True
    assert install(dest, [ASSET, SCOPED], pack) is False

    assert len(pack.calls) == 1


def test_a_changed_file_or_new_version_is_fetched_again(tmp_path: Path) -> None:
    dest = tmp_path / "vendor"
    pack = good_pack()
    install(dest, [ASSET, SCOPED], pack)

    (dest / ASSET.key).write_bytes(b"corrupted")
    assert install(dest, [ASSET, SCOPED], pack) is True
    assert (dest / ASSET.key).read_bytes() == GOOD
    assert len(pack.calls) == 2


def test_refuses_to_replace_a_directory_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")

    with pytest.raises(DestinationError):
        install(tmp_path, [ASSET], good_pack())

    assert (tmp_path / "precious.txt").read_text() == "keep me"
