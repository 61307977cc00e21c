"""Multipart uploads to the local blob endpoint, through the real server.

For each size, a fresh `demobackend serve` (SQLite + blob folder in a temporary directory)
takes a multipart upload in 16 MiB parts: createUpload with the file's SHA-256, one
uploadParts call per 100 parts, the parts PUT from a file on disk by ``--concurrency``
workers at once (4 by default), each over its own keep-alive connection, as S3 clients
do (the aws cli and boto3's TransferManager send 10 at a time), then completeUpload (the
server assembles the parts and checks the declared SHA-256, which it mostly computed as
the parts arrived). Timed from createUpload to the READY answer.

- Throughput (MB/s) of the largest size, against `cp` of the same source file to the same
  disk, followed by an fsync of the copy (the server fsyncs the assembled file): the
  ratio says what the HTTP hop, the part files and the assembly cost.
- The server's peak RSS (VmHWM) after each upload: it must not grow with the file size,
  since neither the parts nor the assembly are ever held in memory.

Everything lives in one temporary directory (the source file, the copy, the server's data),
removed at the end; at most about 3 x the largest size of disk is used at once.

Run: `.venv/bin/python -m bench.multipart [--sizes-mib 256 1024] [--part-mib 16]
[--concurrency 4]` (`--concurrency 1`: one part after another, as the bench did before).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from bench.figures import Figure, fmt
from tests.support.file_client import dev_idp_token
from tests.support.server_process import running_server

MIB = 1024 * 1024
COMMAND = ".venv/bin/python -m bench.multipart"
CREATE = """mutation($input: CreateUploadInput!) {
  createUpload(input: $input) { file { id } multipart { partSize partCount } }
}"""
PARTS = """mutation($id: ID!, $n: [Int!]!) {
  uploadParts(id: $id, partNumbers: $n) { partNumber url method headers }
}"""
DEFAULT_CONCURRENCY = 4
COMPLETE = """mutation($id: ID!, $parts: [CompletedPart!]) {
  completeUpload(id: $id, parts: $parts) { status sha256 }
}"""


@dataclass(frozen=True)
class Run:
    size: int
    seconds: float
    peak_rss_mib: float
    # Of ``seconds``, completeUpload's; the server's CPU time over the upload (all its threads).
    complete_seconds: float = 0.0
    server_cpu_seconds: float = 0.0

    @property
    def mb_per_s(self) -> float:
        return self.size / MIB / self.seconds


def _source(path: Path, size: int) -> str:
    """A file of ``size`` pseudo-random bytes; its SHA-256."""
    digest = hashlib.sha256()
    block = os.urandom(MIB)
    with path.open("wb") as out:
        written = 0
        while written < size:
            chunk = block[: min(MIB, size - written)]
            # Each MiB differs, so nothing downstream can dedupe or compress it away.
            chunk = hashlib.sha256(written.to_bytes(8, "big")).digest() + chunk[32:]
            out.write(chunk)
            digest.update(chunk)
            written += len(chunk)
        # On disk before anything is timed: a gigabyte of the bench's own dirty pages
        # otherwise slows whatever writes next (cp and the server alike) by its writeback.
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def _cp_seconds(source: Path, dest: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["cp", str(source), str(dest)], check=True)
    fd = os.open(dest, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    elapsed = time.perf_counter() - started
    dest.unlink()
    return elapsed


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _gql(api: httpx.Client, query: str, variables: dict[str, object]) -> dict[str, object]:
    answer = api.post("/graphql", json={"query": query, "variables": variables}).json()
    if answer.get("errors"):
        raise RuntimeError(f"GraphQL errors: {answer['errors']}")
    data: dict[str, object] = answer["data"]
    return data


def upload_once(
    folder: Path, source: Path, size: int, sha256: str, part_mib: int, concurrency: int = 1
) -> Run:
    env = {
        "DEMOBACKEND_MAX_UPLOAD_BYTES": str(max(size, 64 * MIB)),
        "DEMOBACKEND_STORAGE_QUOTA_BYTES": str(4 * size + MIB),
        "DEMOBACKEND_MULTIPART_PART_BYTES": str(part_mib * MIB),
        "DEMOBACKEND_LOG_LEVEL": "WARNING",
        # completeUpload assembles and hashes the whole file within the request: on a busy
        # 2-core machine 1 GiB takes longer than the default 10 s deadline (docs/
        # UPLOAD_INTEGRITY.md "Multipart uploads": a cut-off completion is finished by the
        # client's retry). The bench measures the work, not the retry.
        "DEMOBACKEND_REQUEST_TIMEOUT_SECONDS": "600",
        # Without part checksums, as before: the figures stay comparable with earlier runs
        # (the local store hashes while it assembles either way).
        "DEMOBACKEND_MULTIPART_INLINE_VERIFY_MAX_BYTES": str(size),
    }
    data_dir = folder / f"server-{size}"
    data_dir.mkdir()
    with running_server(data_dir, **env) as server:
        token = dev_idp_token(server.base_url, "bench")
        auth = {"Authorization": f"Bearer {token}"}
        # One connection per worker, as an S3 client's pool: a client is not shared.
        local = threading.local()
        clients: list[httpx.Client] = []

        def put_part(reader: int, part_size: int, target: dict[str, object]) -> dict[str, object]:
            blobs = getattr(local, "client", None)
            if blobs is None:
                blobs = local.client = httpx.Client(timeout=600)
                clients.append(blobs)
            number = int(str(target["partNumber"]))
            data = os.pread(reader, part_size, (number - 1) * part_size)
            headers = target["headers"]
            assert isinstance(headers, dict)
            sent = blobs.put(str(target["url"]), content=data, headers=headers)
            sent.raise_for_status()
            return {"partNumber": number, "etag": sent.headers["etag"]}

        with (
            httpx.Client(base_url=server.base_url, headers=auth, timeout=600) as api,
            ThreadPoolExecutor(max_workers=concurrency) as workers,
            source.open("rb") as reader,
        ):
            cpu_before = _cpu_seconds(server.process.pid)
            started = time.perf_counter()
            upload_input = {
                "name": "bench.bin",
                "contentType": "application/octet-stream",
                "size": size,
                "sha256": sha256,
                "multipart": True,
            }
            created = _gql(api, CREATE, {"input": upload_input})["createUpload"]
            assert isinstance(created, dict)
            file_id, plan = created["file"]["id"], created["multipart"]
            part_size, count = int(plan["partSize"]), int(plan["partCount"])
            etags: list[dict[str, object]] = []
            for first in range(1, count + 1, 100):
                numbers = list(range(first, min(first + 100, count + 1)))
                targets = _gql(api, PARTS, {"id": file_id, "n": numbers})["uploadParts"]
                assert isinstance(targets, list)
                # At most ``concurrency`` parts in flight (and in memory) at once; the
                # answers in part order, as completeUpload wants them.
                sent = workers.map(lambda t: put_part(reader.fileno(), part_size, t), targets)
                etags.extend(sent)
            completing = time.perf_counter()
            done = _gql(api, COMPLETE, {"id": file_id, "parts": etags})["completeUpload"]
            finished = time.perf_counter()
            cpu = _cpu_seconds(server.process.pid) - cpu_before
            for blobs in clients:
                blobs.close()
            assert isinstance(done, dict)
            if done["status"] != "READY" or done["sha256"] != sha256:
                raise RuntimeError(f"the upload did not complete as declared: {done}")
        peak = _peak_rss_mib(server.process.pid)
    shutil.rmtree(data_dir, ignore_errors=True)
    return Run(size, finished - started, peak, finished - completing, cpu)


def measure(sizes_mib: list[int], part_mib: int, concurrency: int = 1) -> tuple[list[Run], float]:
    """The runs, smallest first, and cp's seconds for the largest source."""
    folder = Path(tempfile.mkdtemp(prefix="bench-multipart-"))
    try:
        runs: list[Run] = []
        cp_seconds = 0.0
        for size_mib in sorted(sizes_mib):
            size = size_mib * MIB
            source = folder / f"source-{size_mib}.bin"
            sha256 = _source(source, size)
            if size_mib == max(sizes_mib):
                cp_seconds = _cp_seconds(source, folder / "copy.bin")
            runs.append(upload_once(folder, source, size, sha256, part_mib, concurrency))
            source.unlink()
        return runs, cp_seconds
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def figures(
    runs: list[Run], cp_seconds: float, part_mib: int, concurrency: int = 1
) -> list[Figure]:
    small, large = runs[0], runs[-1]
    args = f"--sizes-mib {small.size // MIB} {large.size // MIB} --part-mib {part_mib}"
    if concurrency != DEFAULT_CONCURRENCY:
        args += f" --concurrency {concurrency}"
    at_once = "one at a time" if concurrency == 1 else f"{concurrency} at a time"
    cp_mb_s = large.size / MIB / cp_seconds
    return [
        Figure(
            name=f"multipart upload {large.size // MIB} MiB: MB/s vs cp",
            what=f"{part_mib} MiB parts PUT {at_once} to the local /blobs endpoint, complete "
            "incl. assembly + SHA-256",
            command=f"{COMMAND} {args}",
            value=large.mb_per_s,
            unit="MB/s",
            baseline=cp_mb_s,
            baseline_what="cp + fsync of the same file on the same disk",
            target=0.25,
            higher_is_better=True,
            note="each byte hashed and written once; in-order parts are the blob file",
        ),
        Figure(
            name="multipart upload: server peak RSS, large / small",
            what=f"server VmHWM after {large.size // MIB} MiB vs after {small.size // MIB} MiB",
            command=f"{COMMAND} {args}",
            value=large.peak_rss_mib,
            unit="MiB",
            baseline=small.peak_rss_mib,
            baseline_what=f"after {small.size // MIB} MiB (a fresh server each)",
            target=1.1,
            note="must not grow with the file size",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes-mib", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--part-mib", type=int, default=16)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help="parts in flight at once, each over its own connection (S3 clients: 10)",
    )
    parser.add_argument("--json", action="store_true", help="end with the runs as JSON")
    args = parser.parse_args(argv)
    if len(args.sizes_mib) < 2:
        parser.error("give at least two sizes: the RSS check compares them")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    runs, cp_seconds = measure(args.sizes_mib, args.part_mib, args.concurrency)
    for run in runs:
        print(
            f"{run.size // MIB} MiB: {run.seconds:.2f} s, {fmt(run.mb_per_s)} MB/s, "
            f"server peak RSS {run.peak_rss_mib:.0f} MiB (completeUpload "
            f"{run.complete_seconds:.2f} s, server CPU {run.server_cpu_seconds:.2f} s)"
        )
    print(f"cp + fsync of {runs[-1].size // MIB} MiB: {cp_seconds:.2f} s")
    for figure in figures(runs, cp_seconds, args.part_mib, args.concurrency):
        print(f"{figure.name}: {fmt(figure.value)} {figure.unit} (baseline {fmt(figure.baseline)})")
    if args.json:
        measured = {"runs": [asdict(run) for run in runs], "cp_seconds": cp_seconds}
        extra = {"part_mib": args.part_mib, "concurrency": args.concurrency}
        print(json.dumps(measured | extra))
    return 0


def figures_from_json(text: str) -> list[Figure]:
    """The figures of a run's ``--json`` line (what bench/suite.py reads from the child)."""
    measured = json.loads(text)
    runs = [Run(**run) for run in measured["runs"]]
    # Runs from before the flag sent their parts one at a time.
    concurrency = int(measured.get("concurrency", 1))
    return figures(runs, float(measured["cp_seconds"]), int(measured["part_mib"]), concurrency)


if __name__ == "__main__":
    raise SystemExit(main())
