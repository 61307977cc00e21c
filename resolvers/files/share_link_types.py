"""The ShareLink type (the rules: domain/files/links.py)."""

from datetime import UTC, datetime
from typing import Self

import strawberry

from domain.files import ShareLink
from domain.ids import to_global_id

SHARE_LINK_TYPE = "ShareLink"
SEPARATOR = "."  # neither file ids nor link ids ([A-Za-z0-9_-]) hold it


@strawberry.type(name="ShareLink", description="A link anyone may follow to download the file.")
class ShareLinkType:
    """A share link as the API shows it; its URL only in the answer that made it."""

    id: strawberry.ID
    url: str = strawberry.field(
        description="The link. Only createShareLink's answer holds it: the server keeps a "
        "hash of its token, so in File.shareLinks it is the empty string."
    )
    expires_at: datetime
    downloads: int
    max_downloads: int | None
    created_at: datetime

    @classmethod
    def from_domain(cls, link: ShareLink, url: str = "") -> Self:
        return cls(
            id=strawberry.ID(share_link_global_id(link)),
            url=url,
            expires_at=datetime.fromtimestamp(link.expires_at, tz=UTC),
            downloads=link.downloads,
            max_downloads=link.max_downloads,
            created_at=link.created_at,
        )


def share_link_global_id(link: ShareLink) -> str:
    return to_global_id(SHARE_LINK_TYPE, f"{link.file_id}{SEPARATOR}{link.id}")
