"""Backups carry share links, hashed: a link made before the backup works again after a
restore into a fresh store, a revoked one stays revoked, and the backup's bytes hold the
token's SHA-256 but never the token itself."""

import gzip
import hashlib
from pathlib import Path

from ops.backup.backup import run_backup
from ops.backup.restore import run_restore
from ops.backup.targets import DirectoryTarget
from tests.support.backup import local_stores, upload, user


async def test_restored_links_work_and_revoked_ones_stay_revoked(tmp_path: Path) -> None:
    target = DirectoryTarget(tmp_path / "dest")
    alice = user("alice")
    async with local_stores(tmp_path / "source") as source:
        await source.profiles.ensure_profile(alice)
        file_id = await upload(source, alice, b"shared by link\n")
        _, kept = await source.files.create_share_link(alice, file_id, max_downloads=5)
        revoked, revoked_token = await source.files.create_share_link(alice, file_id)
        await source.files.revoke_share_link(alice, file_id, revoked.id)
        assert await source.files.follow_share_link(kept) is not None  # one download used
        await run_backup(source.items, source.blobs, target)

    stored = b"".join(
        gzip.decompress(part.read_bytes()) for part in (tmp_path / "dest").rglob("items-*.gz")
    )
    assert hashlib.sha256(kept.encode()).hexdigest().encode() in stored
    assert kept.encode() not in stored

    async with local_stores(tmp_path / "restored") as restored:
        await run_restore(target, restored.items, restored.blobs)
        assert await restored.files.follow_share_link(revoked_token) is None
        url = await restored.files.follow_share_link(kept)
        assert url is not None
        record = await restored.files.get_file(alice, file_id)
        [link] = await restored.files.share_links(alice, record)
        assert (link.downloads, link.max_downloads) == (2, 5)  # the count came along
