"""README tells the truth about what the code does: its settings tables match
``Settings``, its HTTP surface names every mounted route, and its performance figures are
the ones bench/RESULTS.md holds."""

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import BaseRoute, Mount, Route

from api.app import build_app
from api.settings import ENV_PREFIX, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
RESULTS = (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8")
SETTINGS_HEADER = "| variable | default | meaning |"


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


def _settings_rows() -> list[tuple[list[str], str]]:
    """(names, default cell) of every row of every settings table."""
    rows: list[tuple[list[str], str]] = []
    for table in README.split(SETTINGS_HEADER)[1:]:
        for line in table.strip().splitlines()[1:]:  # past the |---| line
            if not line.startswith("|"):
                break
            names_cell, default_cell = (cell.strip() for cell in line.strip("|").split("|")[:2])
            rows.append((re.findall(r"`([A-Z0-9_]+)`", names_cell), default_cell))
    return rows


def _documented(default: Any) -> str | None:
    """How README writes a default literally, or None for defaults it describes."""
    if default is None or isinstance(default, bool | tuple):
        return None
    return str(default)


def _defaults() -> dict[str, Any]:
    return {spec.name: spec.default for spec in dataclasses.fields(Settings)}


def test_settings_tables_list_every_setting_and_nothing_else() -> None:
    listed = {name for names, _ in _settings_rows() for name in names}
    fields = {spec.name.upper() for spec in dataclasses.fields(Settings)}
    assert listed == fields, {"not in README": fields - listed, "not settings": listed - fields}


@pytest.mark.parametrize(("names", "cell"), _settings_rows(), ids=lambda v: str(v))
def test_every_literal_default_in_readme_is_the_real_one(names: list[str], cell: str) -> None:
    # Backticked values, not the names of other settings a description mentions.
    literals = [v for v in re.findall(r"`([^`]*)`", cell) if not re.fullmatch(r"[A-Z_]+", v)]
    # One default per name, or a description in words ("1 GiB", "on locally, ..."): a
    # single value for two settings once made BUCKET look like it defaulted to the table's.
    assert len(literals) in (0, len(names)), f"{names}: defaults {literals}"
    if not literals:
        return
    for name, literal in zip(names, literals, strict=True):
        default = _defaults()[name.lower()]
        expected = _documented(default)
        # PUBLIC_URL's is derived, and README says from what; no other may show one.
        assert expected is not None or "HOST" in literal, (
            f"{ENV_PREFIX}{name} has no default, README shows `{literal}`"
        )
        if expected is not None:
            assert literal == expected, f"{ENV_PREFIX}{name}: README `{literal}`, code {default!r}"


def _paths(routes: list[BaseRoute]) -> set[str]:
    found: set[str] = set()
    for route in routes:
        if isinstance(route, Mount):
            found.add(f"{route.path}/")
        elif isinstance(route, Route):
            found.add(route.path)
    return found


def test_http_surface_names_every_route_the_app_mounts(tmp_path: Path) -> None:
    app = build_app(load_settings(data_dir=tmp_path))
    surface = _section("HTTP surface")
    missing = [path for path in _paths(app.routes) if f"{path}" not in surface]
    assert missing == []


@pytest.mark.parametrize("status", [405, 406, 413, 415, 503])
def test_http_surface_says_when_each_refusal_status_happens(status: int) -> None:
    assert re.search(rf"^\| {status} \| \S", _section("HTTP surface"), re.MULTILINE)


def test_performance_figures_are_quoted_from_bench_results() -> None:
    section = _section("Performance")
    assert "git commit | 7b30459" in RESULTS  # the run README names
    # Command lines hold flags and commit ids are not figures; every other number is one.
    prose = re.sub(r"`[^`]*`|\b[0-9a-f]{7}\b", "", section)
    figures = set(re.findall(r"\d+(?:,\d{3})*(?:\.\d+)?", prose))
    missing = sorted(figure for figure in figures if figure not in RESULTS)
    assert missing == [], f"README figures not in bench/RESULTS.md: {missing}"
