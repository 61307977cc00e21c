"""Copying a restore's bytes from the backup into the blob store, in this process or in
worker processes.

Profiled on the local backend, the bytes are most of a restore's CPU (per blob: a read of
the backup's copy, its SHA-256, a private file written, synced and linked into place),
and in one process they share one core, through the GIL, with the items and their search
index. So a restore may hand each part's bytes to worker processes while it writes and
indexes the part before: the restore's own process keeps the one SQLite writer, the workers
keep the other cores busy with bytes.

A worker opens its own target and blob store from picklable recipes (``WorkerRecipes``)
and is spawned, not forked: it inherits no thread, lock or open file of the restore. The
restore still waits for every byte of a part before writing that part's metadata, so a
restored READY file has its bytes whichever process wrote them.
"""

import asyncio
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import TracebackType

from domain.errors import InvalidInputError
from domain.ports import BlobStore
from ops.backup.crypto import PartCipher
from ops.backup.errors import BackupDamagedError, BackupError
from ops.backup.parts import blob_chunks
from ops.backup.targets import Target

BLOB_CONCURRENCY = 8


@dataclass(frozen=True)
class BlobJob:
    """One file's bytes to restore: where they go and what they must hash to."""

    key: str
    sha256: str
    size: int
    content_type: str


@dataclass(frozen=True)
class Copied:
    blobs: int = 0
    bytes: int = 0

    def __add__(self, other: "Copied") -> "Copied":
        return Copied(self.blobs + other.blobs, self.bytes + other.bytes)


@dataclass(frozen=True)
class WorkerRecipes:
    """How a worker process opens its own copies of the restore's source and blob store.
    Both must be picklable (a module-level function, or functools.partial of one)."""

    target: Callable[[], Target]
    blobs: Callable[[], BlobStore]


async def copy_blobs(
    target: Target,
    blobs: BlobStore,
    cipher: PartCipher | None,
    jobs: Sequence[BlobJob],
    *,
    check: bool,
) -> Copied:
    """Write each job's bytes, checked against its SHA-256 by the blob store. ``check``:
    skip a blob the store already holds with that hash and size (a resumed or forced
    restore)."""
    gate = asyncio.Semaphore(BLOB_CONCURRENCY)

    async def one(job: BlobJob) -> Copied:
        async with gate:
            if check:
                info = await blobs.head(job.key)
                if info is not None and info.sha256 == job.sha256 and info.size == job.size:
                    return Copied()
            chunks = blob_chunks(target, job.sha256, cipher)
            try:
                await blobs.write(job.key, chunks, content_type=job.content_type, sha256=job.sha256)
            except InvalidInputError:
                raise BackupDamagedError(
                    f"blob {job.sha256[:12]}… does not match its SHA-256 (altered or damaged)"
                ) from None
        return Copied(1, job.size)

    copied = await asyncio.gather(*(one(job) for job in jobs))
    return sum(copied, Copied())


class BlobWorkers:
    """``workers`` spawned processes copying bytes; use as ``async with``. Leaving waits
    for the jobs in flight (a process cannot be stopped half-way through a file safely)."""

    def __init__(self, recipes: WorkerRecipes, cipher: PartCipher | None, *, workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(recipes, cipher),
        )

    async def copy(self, jobs: Sequence[BlobJob], *, check: bool) -> Copied:
        """Every job copied, split evenly over the workers; the first failure is raised
        once the others have finished."""
        loop = asyncio.get_running_loop()
        slices = [list(jobs[n :: self.workers]) for n in range(self.workers)]
        futures = [
            loop.run_in_executor(self._pool, _copy_in_worker, part, check)
            for part in slices
            if part
        ]
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BrokenProcessPool):
                raise BackupError("a restore worker process stopped unexpectedly") from None
            if isinstance(outcome, BaseException):
                raise outcome
        return sum((o for o in outcomes if isinstance(o, Copied)), Copied())

    async def __aenter__(self) -> "BlobWorkers":
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)


# A worker process's own loop, source and blob store, opened once by _start_worker.
_worker: tuple[asyncio.AbstractEventLoop, Target, BlobStore, PartCipher | None] | None = None


def _start_worker(recipes: WorkerRecipes, cipher: PartCipher | None) -> None:
    global _worker
    _worker = (asyncio.new_event_loop(), recipes.target(), recipes.blobs(), cipher)


def _copy_in_worker(jobs: list[BlobJob], check: bool) -> Copied:
    if _worker is None:
        raise RuntimeError("restore worker not started")
    loop, target, blobs, cipher = _worker
    return loop.run_until_complete(copy_blobs(target, blobs, cipher, jobs, check=check))
