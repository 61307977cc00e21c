"""dataExport(id): what a client polls while a large export builds."""

from typing import Any

import strawberry
from strawberry import Info

from resolvers.accounts.mutations import accounts_of
from resolvers.accounts.types import DataExportType
from resolvers.context import Context
from resolvers.permissions import IsAuthenticated


@strawberry.type
class AccountQueries:
    """The viewer's data exports, merged into the schema's Query type."""

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description=(
            "One of the viewer's data exports, as exportMyData answered it: BUILDING until "
            "it is READY (url, expiresAt) or FAILED. NOT_FOUND for any other id, and once "
            "it expired."
        ),
    )
    async def data_export(self, info: Info[Context, Any], id: strawberry.ID) -> DataExportType:
        viewer = info.context.require_principal()
        return DataExportType.from_domain(await accounts_of(info).data_export(viewer, str(id)))
