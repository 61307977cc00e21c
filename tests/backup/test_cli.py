"""The commands as an operator runs them: `demobackend backup/verify-backup/restore/drill`
with settings from the environment; exit codes and one clear line, never a traceback."""

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.cli import main
from domain.cursor_signer import CursorSigner
from domain.errors import IndexRebuildingError
from domain.search.service import SearchService
from tests.support.backup import (
    KEY_HEX,
    OTHER_KEY_HEX,
    local_stores,
    search_hits,
    seed,
    snapshot,
)
from tests.support.schema_client import ADMIN


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("DEMOBACKEND_DATA_DIR", str(folder))
    monkeypatch.delenv("DEMOBACKEND_BACKUP_ENCRYPTION_KEY", raising=False)

    async def fill() -> None:
        async with local_stores(folder) as stores:
            await seed(stores)

    asyncio.run(fill())
    return folder


def state_of(folder: Path) -> dict[str, object]:
    async def read() -> dict[str, object]:
        async with local_stores(folder) as stores:
            return await snapshot(stores)

    return asyncio.run(read())


def test_backup_verify_restore(
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dest = tmp_path / "dest"
    assert main(["backup", str(dest)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("backup ") and "5 blobs" in out

    assert main(["verify-backup", str(dest)]) == 0
    assert "every checksum and reference is correct" in capsys.readouterr().out

    # Into the store it came from: not empty, so refused with one line.
    assert main(["restore", str(dest)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("demobackend: the target store is not empty") and err.count("\n") == 1

    monkeypatch.setenv("DEMOBACKEND_DATA_DIR", str(tmp_path / "fresh"))
    assert main(["restore", str(dest)]) == 0
    assert "restored backup" in capsys.readouterr().out
    assert state_of(tmp_path / "fresh") == state_of(data_dir)


def test_verify_lists_every_problem_and_fails(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "dest"
    assert main(["backup", str(dest)]) == 0
    blobs = sorted(path for path in (dest / "blobs").rglob("*") if path.is_file())
    blobs[0].write_bytes(b"altered")
    blobs[1].unlink()
    capsys.readouterr()
    assert main(["verify-backup", str(dest)]) == 1
    err = capsys.readouterr().err
    assert "2 problem(s)" in err
    assert "Traceback" not in err


def test_encrypted_backup_needs_the_right_key(
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dest = tmp_path / "dest"
    monkeypatch.setenv("DEMOBACKEND_BACKUP_ENCRYPTION_KEY", KEY_HEX)
    assert main(["backup", str(dest)]) == 0
    assert "encrypted" in capsys.readouterr().out
    assert main(["verify-backup", str(dest)]) == 0

    monkeypatch.setenv("DEMOBACKEND_BACKUP_ENCRYPTION_KEY", OTHER_KEY_HEX)
    capsys.readouterr()
    assert main(["verify-backup", str(dest)]) == 1
    err = capsys.readouterr().err
    assert err == (
        "demobackend: DEMOBACKEND_BACKUP_ENCRYPTION_KEY is not the key this backup "
        "was encrypted with\n"
    )
    assert KEY_HEX not in err and OTHER_KEY_HEX not in err

    monkeypatch.setenv("DEMOBACKEND_BACKUP_ENCRYPTION_KEY", "not-hex")
    assert main(["verify-backup", str(dest)]) == 2
    assert "DEMOBACKEND_BACKUP_ENCRYPTION_KEY" in capsys.readouterr().err


def test_drill_reports_rto_and_no_difference(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["drill", "--workdir", str(tmp_path / "drill"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["differences"] == []
    assert report["blobs"] == 6 and report["items"] > 10  # 6 READY files, 5 distinct blobs
    assert report["restore_seconds"] > 0
    # A second drill in the same workdir backs up incrementally and still compares clean.
    assert main(["drill", "--workdir", str(tmp_path / "drill")]) == 0
    assert capsys.readouterr().out.startswith("drill OK")


def test_bad_destination_is_one_line(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert main(["backup", str(blocker / "dest")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("demobackend: ") and err.count("\n") == 1
    assert main(["verify-backup", "s3://"]) == 1
    assert "s3://BUCKET" in capsys.readouterr().err


def test_restore_can_defer_the_search_index_to_reindex(
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dest = tmp_path / "dest"
    assert main(["backup", str(dest)]) == 0
    fresh = tmp_path / "fresh"
    monkeypatch.setenv("DEMOBACKEND_DATA_DIR", str(fresh))
    assert main(["restore", str(dest), "--defer-search-index"]) == 0
    assert "run `demobackend reindex`" in capsys.readouterr().out
    assert postings(fresh, "report") == 0
    # Until reindex completes, search says so instead of answering from an empty index.
    with pytest.raises(IndexRebuildingError):
        search_as_admin(fresh, "report")
    assert main(["reindex"]) == 0
    assert postings(fresh, "report") > 0
    assert search_as_admin(fresh, "report") > 0


def search_as_admin(folder: Path, query: str) -> int:
    async def run() -> int:
        async with local_stores(folder) as stores:
            service = SearchService(
                items=stores.items,
                cursors=CursorSigner(b"cli-test-cursor-key-0123456789abcdef"),
                clock=lambda: datetime.now(UTC),
            )
            page = await service.search(ADMIN, query)
            return len(page.hits)

    return asyncio.run(run())


def postings(folder: Path, term: str) -> int:
    async def count() -> int:
        async with local_stores(folder) as stores:
            return await search_hits(stores, term)

    return asyncio.run(count())
