"""A data export's build streams: ten times the bytes needs about the same memory. Each
build runs in a fresh process (bench/export_memory.py) on the local backend, through the
background path; its peak RSS is compared with a build of a tenth of the bytes."""

from pathlib import Path

import pytest

from bench.export_memory import measure

pytestmark = pytest.mark.slow


def test_ten_times_the_bytes_needs_about_the_same_memory(tmp_path: Path) -> None:
    small, large = measure(16, tmp_path), measure(160, tmp_path)
    for run in (small, large):
        assert (run["started"], run["status"]) == ("BUILDING", "READY"), run
    assert large["archive_mib"] >= 160  # type: ignore[operator]
    # Holding the archive, or one whole file, would add 160 MiB or 4 MiB per file read.
    growth = float(large["peak_rss_mib"]) - float(small["peak_rss_mib"])  # type: ignore[arg-type]
    assert growth < 16, (small, large)
