"""Helpers for the search tests: the search query and small client shortcuts."""

from typing import Any

from domain.models import Principal
from tests.support.schema_client import GraphQLResult, SchemaClient

SEARCH = """
query($q: String!, $types: [SearchType!], $filter: SearchFilter, $first: Int, $after: String) {
  search(query: $q, types: $types, filter: $filter, first: $first, after: $after) {
    edges { cursor score highlights node { __typename ... on File { id name }
                                                     ... on User { id username } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def search(
    client: SchemaClient, principal: Principal, q: str, **variables: Any
) -> GraphQLResult:
    return await client.execute(SEARCH, principal, {"q": q, **variables})


async def hits(client: SchemaClient, principal: Principal, q: str, **variables: Any) -> list[str]:
    """Names of file hits and usernames of user hits, best first."""
    result = await search(client, principal, q, **variables)
    assert result.errors == [], result.errors
    return [
        edge["node"].get("name") or edge["node"]["username"]
        for edge in result.data["search"]["edges"]
    ]
