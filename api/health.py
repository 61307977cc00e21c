"""Liveness (the process answers) and readiness (the stores answer, each within a bound,
and no dependency's circuit breaker is open)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse

from api.http_errors import request_id_of
from domain.errors import DomainError
from domain.ports import BlobStore, ItemStore
from resolvers.errors import log_masked_error

if TYPE_CHECKING:
    from adapters.resilience.breaker import CircuitBreaker

logger = logging.getLogger("demobackend.health")
READY_TIMEOUT_SECONDS = 2.0


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


class ReadyCheck:
    def __init__(
        self,
        *,
        items: ItemStore,
        blobs: BlobStore,
        breakers: Mapping[str, CircuitBreaker] | None = None,
    ) -> None:
        self._breakers = dict(breakers or {})
        self._pings: dict[str, Callable[[], Awaitable[None]]] = {
            "store": items.ping,
            "blobs": blobs.ping,
        }

    async def endpoint(self, request: Request) -> JSONResponse:
        names = list(self._pings)
        request_id = request_id_of(request)
        states = await asyncio.gather(*(self._check(name, request_id) for name in names))
        checks = dict(zip(names, states, strict=True))
        # An open breaker refuses that dependency's calls: not ready, even if a ping passes.
        breakers = {name: breaker.state for name, breaker in self._breakers.items()}
        ready = all(state == "ok" for state in states) and "open" not in breakers.values()
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks, "breakers": breakers},
            status_code=200 if ready else 503,
        )

    async def _check(self, name: str, request_id: str) -> str:
        # The answer names the dependency only; why it failed goes to the log, once.
        try:
            await asyncio.wait_for(self._pings[name](), READY_TIMEOUT_SECONDS)
        except (DomainError, TimeoutError) as exc:
            logger.warning(
                "readiness: %s unreachable",
                name,
                extra={"request_id": request_id, "exception_name": type(exc).__name__},
            )
            return "unavailable"
        except Exception as exc:  # an adapter broke its contract: still only "unavailable"
            log_masked_error(logger, f"readiness: {name} check failed", exc, request_id)
            return "unavailable"
        return "ok"
