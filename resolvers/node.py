"""The Node interface: anything with an opaque global id."""

import strawberry


@strawberry.interface(description="An object with an opaque global id.")
class Node:
    """Relay's Node interface: every object fetchable by its global id."""

    id: strawberry.ID
