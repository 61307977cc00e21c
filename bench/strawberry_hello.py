"""The framework's minimal app: Strawberry's ASGI view on Starlette answering ``{ hello }``,
served by the same uvicorn as ``demobackend serve`` (one worker, h11, log level warning).
bench/framework.py measures the app's requests against it.

    .venv/bin/python -m uvicorn bench.strawberry_hello:app --host 127.0.0.1 --port 8001
"""

import strawberry
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.asgi import GraphQL


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


schema = strawberry.Schema(query=Query)
app = Starlette(routes=[Route("/graphql", GraphQL(schema), methods=["GET", "POST"])])
