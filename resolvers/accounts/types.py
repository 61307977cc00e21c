"""DataExport and its status, as the schema shows them."""

import enum
from datetime import UTC, datetime

import strawberry

from domain.accounts import DataExport


@strawberry.enum
class DataExportStatus(enum.Enum):
    BUILDING = "BUILDING"
    READY = "READY"
    FAILED = "FAILED"


@strawberry.type(name="DataExport")
class DataExportType:
    """A data export as the API shows it (the domain's DataExport)."""

    id: strawberry.ID
    status: DataExportStatus
    url: str | None
    expires_at: datetime | None

    @classmethod
    def from_domain(cls, export: DataExport) -> "DataExportType":
        expires = export.expires_at
        return cls(
            id=strawberry.ID(export.id),
            status=DataExportStatus(export.status),
            url=export.url,
            expires_at=None if expires is None else datetime.fromtimestamp(expires, UTC),
        )
