"""The Node interface: anything with an opaque global id."""

import strawberry


@strawberry.interface(description="An object with an opaque global id.")
class Node:
    id: strawberry.ID
