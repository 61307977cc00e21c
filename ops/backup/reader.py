"""Opening a backup for reading: find it, check the manifest's checksum (and MAC when
encrypted), check the key, then hand out its parts one verified part at a time."""

import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from ops.backup import layout, selection
from ops.backup.crypto import CIPHER_NAME, PartCipher
from ops.backup.errors import BackupDamagedError, BackupError, BackupKeyError
from ops.backup.parts import read_part
from ops.backup.targets import Target

MAX_MANIFEST_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class BlobRef:
    sha256: str
    size: int
    stored_size: int


@dataclass
class OpenedBackup:
    target: Target
    manifest: layout.Manifest
    cipher: PartCipher | None

    async def item_parts(self) -> AsyncIterator[tuple[layout.PartEntry, list[dict[str, Any]]]]:
        for entry in self.manifest.item_parts:
            records = await read_part(self.target, self.manifest.id, entry, self.cipher)
            for record in records:
                check_record(record, entry.name)
            yield entry, records

    async def blob_index(self) -> dict[str, BlobRef]:
        index: dict[str, BlobRef] = {}
        for entry in self.manifest.blob_parts:
            for record in await read_part(self.target, self.manifest.id, entry, self.cipher):
                try:
                    ref = BlobRef(record["sha256"], record["size"], record["stored_size"])
                except (KeyError, TypeError):
                    raise BackupDamagedError(f"{entry.name}: malformed blob entry") from None
                if not layout.is_sha256(ref.sha256):
                    raise BackupDamagedError(f"{entry.name}: malformed blob entry")
                index[ref.sha256] = ref
        return index


def check_record(record: dict[str, Any], part: str) -> None:
    item = record.get("item")
    if not isinstance(item, dict) or not isinstance(item.get("pk"), str):
        raise BackupDamagedError(f"{part}: malformed item record")
    if not isinstance(item.get("sk"), str):
        raise BackupDamagedError(f"{part}: malformed item record")
    if "blob" in record and not (
        layout.is_sha256(record["blob"]) and selection.is_ready_file(item)
    ):
        raise BackupDamagedError(f"{part}: malformed blob reference")


async def list_backups(target: Target) -> list[str]:
    """Ids of the complete backups in ``target``, oldest first."""
    names = await target.list(f"{layout.BACKUPS_DIR}/")
    found = set()
    for name in names:
        parts = name.split("/")
        if (
            len(parts) == 3
            and parts[2] == layout.MANIFEST_CHECKSUM
            and layout.is_backup_id(parts[1])
        ):
            found.add(parts[1])
    return sorted(found)


async def open_backup(
    target: Target, cipher: PartCipher | None, backup_id: str | None = None
) -> OpenedBackup:
    if backup_id is None:
        ids = await list_backups(target)
        if not ids:
            raise BackupError(f"{target.description}: no complete backup found")
        backup_id = ids[-1]
    elif not layout.is_backup_id(backup_id):
        raise BackupError(f"{backup_id!r} is not a backup id")
    body = await target.read_all(layout.backup_path(backup_id, layout.MANIFEST), MAX_MANIFEST_BYTES)
    checksum = await target.read_all(layout.backup_path(backup_id, layout.MANIFEST_CHECKSUM), 4096)
    sums = _parse_checksum(checksum)
    if sums.get("sha256") != hashlib.sha256(body).hexdigest():
        raise BackupDamagedError("manifest.json does not match manifest.sha256 (altered)")
    manifest = layout.Manifest.from_json(body)
    if manifest.id != backup_id:
        raise BackupDamagedError("manifest.json belongs to another backup")
    _check_key(manifest, cipher)
    if manifest.encryption is not None:
        assert cipher is not None
        if not hmac.compare_digest(sums.get("hmac_sha256", ""), cipher.mac(body)):
            raise BackupDamagedError("manifest.json fails authentication (altered)")
    return OpenedBackup(target, manifest, cipher if manifest.encryption is not None else None)


def _parse_checksum(data: bytes) -> dict[str, str]:
    sums: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        name, _, value = line.partition(" ")
        sums[name] = value.strip()
    return sums


def _check_key(manifest: layout.Manifest, cipher: PartCipher | None) -> None:
    encryption = manifest.encryption
    if encryption is None:
        return
    if encryption.get("cipher") != CIPHER_NAME:
        raise BackupError(f"backup cipher {encryption.get('cipher')!r} is not supported")
    if cipher is None:
        raise BackupKeyError(
            "the backup is encrypted: set DEMOBACKEND_BACKUP_ENCRYPTION_KEY to its key"
        )
    if encryption.get("key_id") != cipher.key_id:
        raise BackupKeyError(
            "DEMOBACKEND_BACKUP_ENCRYPTION_KEY is not the key this backup was encrypted with"
        )
