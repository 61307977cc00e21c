"""The bodies of the backup commands, for api/cli.py: stores and settings come in, one
summary goes out on stdout, progress on stderr. Exit codes: 0 ok, 1 failure."""

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from domain.ports import BlobStore, IdentityAccounts, ItemStore
from ops.backup.backup import run_backup
from ops.backup.blob_copy import WorkerRecipes
from ops.backup.crypto import PartCipher
from ops.backup.drill import run_drill
from ops.backup.owners import UnmappedUsersError
from ops.backup.progress import StderrProgress
from ops.backup.restore import run_restore
from ops.backup.targets import open_target
from ops.backup.verify import verify_backup

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MB = 1024 * 1024
S3ClientFactory = Callable[[], "S3Client"]


def cipher_from(key_hex: str | None) -> PartCipher | None:
    return PartCipher.from_hex(key_hex) if key_hex is not None else None


async def backup_command(
    items: ItemStore,
    blobs: BlobStore,
    dest: str,
    *,
    key_hex: str | None,
    source: str,
    s3_client: S3ClientFactory,
) -> int:
    target = open_target(dest, s3_client)
    progress = StderrProgress()
    try:
        result = await run_backup(
            items, blobs, target, cipher=cipher_from(key_hex), source=source, progress=progress
        )
    finally:
        progress.close()
    m = result.manifest
    print(
        f"backup {m.id} in {target.description}: {m.items} items, {m.blobs} blobs "
        f"({m.blob_bytes / MB:.1f} MB; {m.new_blobs} new, {m.new_blob_bytes / MB:.1f} MB), "
        f"{result.seconds:.1f} s{', encrypted' if m.encryption else ''}"
    )
    for dropped in m.dropped_files:
        print(f"  left out: file {dropped['id']} ({dropped['reason']})")
    for problem in m.problems:
        print(f"  problem: {problem}", file=sys.stderr)
    return 0 if result.ok else 1


async def verify_command(
    src: str, *, backup_id: str | None, key_hex: str | None, s3_client: S3ClientFactory
) -> int:
    target = open_target(src, s3_client)
    progress = StderrProgress()
    try:
        report = await verify_backup(
            target, cipher_from(key_hex), backup_id=backup_id, progress=progress
        )
    finally:
        progress.close()
    summary = (
        f"backup {report.backup_id}: {report.items} items, {report.blobs} blobs "
        f"({report.blob_bytes / MB:.1f} MB)"
    )
    if report.ok:
        print(f"{summary}: every checksum and reference is correct")
        return 0
    print(f"{summary}: {len(report.problems)} problem(s)", file=sys.stderr)
    for problem in report.problems:
        print(f"  - {problem}", file=sys.stderr)
    return 1


async def restore_command(
    items: ItemStore,
    blobs: BlobStore,
    src: str,
    *,
    backup_id: str | None,
    force: bool,
    key_hex: str | None,
    s3_client: S3ClientFactory,
    rebuild_index: bool = True,
    map_users_to: IdentityAccounts | None = None,
    skip_unmapped: bool = False,
    worker_recipes: WorkerRecipes | None = None,
    workers: int | None = None,
) -> int:
    target = open_target(src, s3_client)
    progress = StderrProgress()
    try:
        result = await run_restore(
            target,
            items,
            blobs,
            cipher=cipher_from(key_hex),
            backup_id=backup_id,
            force=force,
            progress=progress,
            rebuild_index=rebuild_index,
            map_users_to=map_users_to,
            skip_unmapped=skip_unmapped,
            worker_recipes=worker_recipes,
            workers=workers,
        )
    except UnmappedUsersError as error:
        print(
            f"demobackend: {len(error.unmapped)} user(s) of the backup cannot be mapped by "
            "username; nothing was restored:",
            file=sys.stderr,
        )
        for user in error.unmapped:
            print(f"  - {user.describe()}", file=sys.stderr)
        print(
            "Create them in the target's identity provider, or pass --skip-unmapped to "
            "leave out their files and shares.",
            file=sys.stderr,
        )
        return 1
    finally:
        progress.close()
    print(
        f"restored backup {result.backup_id}{' (resumed)' if result.resumed else ''}: "
        f"{result.items} items, {result.blobs} blobs ({result.blob_bytes / MB:.1f} MB), "
        f"{result.search_documents} documents indexed, {result.seconds:.1f} s"
    )
    if not rebuild_index:
        print("  search index not rebuilt: run `demobackend reindex` (safe while serving)")
    if map_users_to is not None:
        print(f"  {result.users_mapped} user(s) mapped by username onto the target's users")
        for user in result.users_left_out:
            print(f"  left out user {user.describe()}: their files and shares")
        if result.deleted_users:
            print(f"  left out {result.deleted_users} account(s) whose deletion had begun")
        if result.items_left_out:
            print(
                f"  left out {result.items_left_out} item(s): of users left out, and the "
                "local sign-in's own"
            )
    if result.orphans_skipped:
        print(f"  skipped {result.orphans_skipped} share item(s) of files not in the backup")
    return 0


async def drill_command(
    items: ItemStore,
    blobs: BlobStore,
    workdir: Path,
    *,
    key_hex: str | None,
    source: str,
    as_json: bool,
) -> int:
    progress = StderrProgress()
    try:
        report = await run_drill(
            items,
            blobs,
            workdir=workdir,
            encryption_key=bytes.fromhex(key_hex) if key_hex is not None else None,
            progress=progress,
            source=source,
        )
    finally:
        progress.close()
    if as_json:
        print(json.dumps(report.as_dict(), indent=1))
    else:
        verdict = "OK" if report.ok else f"FAILED: {len(report.differences)} difference(s)"
        print(
            f"drill {verdict}: {report.items} items, {report.blobs} blobs "
            f"({report.bytes / MB:.1f} MB); backup {report.backup_seconds:.1f} s, "
            f"restore (RTO) {report.restore_seconds:.1f} s, verify {report.verify_seconds:.1f} s"
        )
        for difference in report.differences:
            print(f"  - {difference}")
        for note in report.notes:
            print(f"  note: {note}")
    return 0 if report.ok else 1
