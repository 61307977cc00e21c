"""Liveness and readiness."""

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from domain.errors import DomainError
from domain.ports import ItemStore

logger = logging.getLogger("demobackend.health")
READY_TIMEOUT_SECONDS = 2.0


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


class ReadyCheck:
    def __init__(self, store: ItemStore) -> None:
        self._store = store

    async def endpoint(self, request: Request) -> JSONResponse:
        checks = {"store": await self._check_store()}
        ready = all(state == "ok" for state in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    async def _check_store(self) -> str:
        try:
            await asyncio.wait_for(self._store.ping(), READY_TIMEOUT_SECONDS)
        except (DomainError, TimeoutError):
            logger.warning("readiness: item store unreachable")
            return "unavailable"
        return "ok"
