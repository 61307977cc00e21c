"""What createUpload answers: the PENDING file and where to send its bytes."""

from datetime import datetime
from typing import Self

import strawberry

from domain.models import FileRecord
from domain.ports import UploadTarget
from resolvers.files.types import FileType
from resolvers.scalars import JSON, as_json


@strawberry.type(
    name="UploadTarget",
    description=(
        "Send the bytes straight to `url` with `method`: POST is a multipart form with "
        "`fields` then the `file` part; PUT is the raw body with `headers`."
    ),
)
class UploadTargetType:
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


@strawberry.type
class CreateUploadPayload:
    file: FileType
    upload: UploadTargetType

    @classmethod
    def from_domain(cls, record: FileRecord, target: UploadTarget) -> Self:
        return cls(file=FileType.from_domain(record), upload=UploadTargetType.from_domain(target))
