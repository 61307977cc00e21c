"""The HTTP ceiling: a bare Starlette app with one route, served by the same uvicorn as
``demobackend serve`` (same HTTP implementation, log level warning), for bench/load.py.

    .venv/bin/python -m uvicorn bench.hello_app:app --host 127.0.0.1 --port 8001
"""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


app = Starlette(routes=[Route("/", hello, methods=["GET"])])
