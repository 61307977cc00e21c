"""What createUpload answers: the PENDING file and where to send its bytes."""

from datetime import UTC, datetime
from typing import Self

import strawberry

from domain.models import FileRecord
from domain.ports import PartTarget, UploadTarget
from resolvers.files.types import FileType
from resolvers.scalars import JSON, Long, as_json


@strawberry.type(
    name="UploadTarget",
    description=(
        "Send the bytes straight to `url` with `method`: POST is a multipart form with "
        "`fields` then the `file` part; PUT is the raw body with `headers`."
    ),
)
class UploadTargetType:
    """Where and how a client sends a single-request upload's bytes (the domain's
    UploadTarget), so they never pass through the function."""

    url: str
    method: str
    fields: JSON
    headers: JSON
    expires_at: datetime

    @classmethod
    def from_domain(cls, target: UploadTarget) -> Self:
        return cls(
            url=target.url,
            method=target.method,
            fields=as_json(target.fields),
            headers=as_json(target.headers),
            expires_at=target.expires_at,
        )


@strawberry.type(
    description="The part plan of a multipart upload: every part is `partSize` bytes but the "
    "last; ask uploadParts for their targets, and complete before `expiresAt`."
)
class MultipartTarget:
    """A multipart upload's part plan, as the API shows it."""

    part_size: Long
    part_count: int
    expires_at: datetime
    part_checksums: bool = strawberry.field(
        description="Whether uploadParts takes (and requires) each part's sha256."
    )


@strawberry.type(
    description="PUT exactly this part's bytes to `url` with `headers` (with part "
    "checksums: the part's `x-amz-checksum-sha256`, signed into the URL); the answer's "
    "ETag header goes into completeUpload's parts."
)
class UploadPart:
    """Where one part of a multipart upload goes, signed for that part alone."""

    part_number: int
    url: str
    method: str
    headers: JSON

    @classmethod
    def from_domain(cls, target: PartTarget) -> Self:
        return cls(
            part_number=target.part_number,
            url=target.url,
            method=target.method,
            headers=as_json(target.headers),
        )


@strawberry.type(description="Exactly one of upload / multipart is set.")
class CreateUploadPayload:
    """createUpload's answer: the declared file and where its bytes go."""

    file: FileType
    upload: UploadTargetType | None
    multipart: MultipartTarget | None

    @classmethod
    def from_domain(cls, record: FileRecord, target: UploadTarget | None) -> Self:
        plan = record.multipart
        return cls(
            file=FileType.from_domain(record),
            upload=None if target is None else UploadTargetType.from_domain(target),
            multipart=None
            if plan is None or record.expires_at is None
            else MultipartTarget(
                part_size=Long(plan.part_size),
                part_count=plan.part_count,
                expires_at=datetime.fromtimestamp(record.expires_at, UTC),
                part_checksums=plan.part_checksums,
            ),
        )
