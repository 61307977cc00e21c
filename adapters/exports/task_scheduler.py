"""ExportScheduler as asyncio tasks in the server process (the local server, and any
long-running one). A task dies with its process; the export's item stays BUILDING and the
next process resumes it at start-up (api/app.py), or it reads as FAILED once stale."""

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

Build = Callable[[str, str], Awaitable[object]]


class TaskExportScheduler:
    def __init__(self) -> None:
        self._build: Build | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def bind(self, build: Build) -> None:
        """The builder is made after the scheduler it is given (composition root)."""
        self._build = build

    async def schedule(self, user_id: str, export_id: str) -> None:
        if self._build is None:
            raise RuntimeError("TaskExportScheduler used before bind()")
        # A fresh context: the build must not inherit the request's deadline, nor count
        # its store calls against the request that started it.
        task = asyncio.create_task(
            self._run(self._build, user_id, export_id), context=contextvars.Context()
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, build: Build, user_id: str, export_id: str) -> None:
        try:
            await build(user_id, export_id)
        except Exception:
            # The export stays BUILDING, reads as FAILED once stale, and a retry rebuilds.
            logger.exception("data export build crashed")

    async def drain(self) -> None:
        """Wait for every build running now (tests, and a graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
