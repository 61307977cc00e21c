"""Where things are in a backup destination, and the manifest (format version 1; the
format is documented in ops/backup/README.md).

    <DEST>/blobs/<aa>/<sha256>                       file bytes, shared by every backup
    <DEST>/backups/<id>/items-000001.jsonl.gz        items, gzip'd JSON lines
    <DEST>/backups/<id>/blobs-000001.jsonl.gz        index of the blobs this backup uses
    <DEST>/backups/<id>/manifest.json                every part with its SHA-256 and size
    <DEST>/backups/<id>/manifest.sha256              the manifest's checksum (and MAC)

Backup ids are UTC times plus a random suffix, so they sort by age; a folder without
``manifest.sha256`` is an interrupted attempt and is never read.
"""

import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ops.backup.errors import BackupDamagedError

FORMAT = "demobackend-backup"
VERSION = 1
BLOBS_DIR = "blobs"
BACKUPS_DIR = "backups"
MANIFEST = "manifest.json"
MANIFEST_CHECKSUM = "manifest.sha256"
ITEMS_PER_PART = 10_000
BLOB_REFS_PER_PART = 20_000
_BACKUP_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def new_backup_id(now: datetime) -> str:
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def is_backup_id(value: str) -> bool:
    return _BACKUP_ID.fullmatch(value) is not None


def is_sha256(value: object) -> bool:
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def blob_name(sha256: str) -> str:
    return f"{BLOBS_DIR}/{sha256[:2]}/{sha256}"


def backup_path(backup_id: str, name: str) -> str:
    return f"{BACKUPS_DIR}/{backup_id}/{name}"


def items_part_name(number: int) -> str:
    return f"items-{number:06d}.jsonl.gz"


def blobs_part_name(number: int) -> str:
    return f"blobs-{number:06d}.jsonl.gz"


@dataclass(frozen=True, slots=True)
class PartEntry:
    name: str  # inside the backup's folder
    sha256: str  # of the stored bytes (after compression and encryption)
    size: int  # stored bytes
    records: int  # JSON lines inside


@dataclass(frozen=True)
class Manifest:
    id: str
    created_at: str
    finished_at: str
    source: str  # "local" or "aws": where the backup was taken
    encryption: dict[str, Any] | None  # {"cipher", "chunk_bytes", "key_id"} when encrypted
    item_parts: list[PartEntry]
    blob_parts: list[PartEntry]
    items: int
    blobs: int
    blob_bytes: int  # plaintext bytes of every blob this backup uses
    new_blobs: int  # of which this backup copied (the rest were already in DEST)
    new_blob_bytes: int
    skipped: dict[str, int] = field(default_factory=dict)
    dropped_files: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> bytes:
        body = {"format": FORMAT, "version": VERSION, **asdict(self)}
        return json.dumps(body, indent=1, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> "Manifest":
        try:
            body = json.loads(data)
            if body.get("format") != FORMAT:
                raise BackupDamagedError("manifest.json is not a DemoBackend backup manifest")
            if body.get("version") != VERSION:
                raise BackupDamagedError(
                    f"backup format version {body.get('version')!r} is not supported "
                    f"(this version reads {VERSION})"
                )
            del body["format"], body["version"]
            body["item_parts"] = [PartEntry(**part) for part in body["item_parts"]]
            body["blob_parts"] = [PartEntry(**part) for part in body["blob_parts"]]
            return cls(**body)
        except (ValueError, TypeError, KeyError, AttributeError):
            raise BackupDamagedError("manifest.json is malformed") from None
