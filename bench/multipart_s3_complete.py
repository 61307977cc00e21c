"""completeUpload of a multipart file on S3 (moto's server, with S3's part checksum rules in
front: tests/support/s3_part_checksums.py), through the real server process: how long the
completion takes with part checksums (the server checks S3's composite checksum: no read of
the object) against without them (the server reads the object back, streamed, and hashes
it), at two sizes, and how many GetObject requests the server made for each.

Only the completeUpload request is timed; parts are sent before the clock starts. Each file
is deleted after its run, so moto's memory holds at most one file's parts and object. The
time includes moto's own CompleteMultipartUpload, which concatenates the parts and hashes
them for the composite in the test process: on AWS that work is S3's, not the function's.
The function's share is what differs between the two ways: GetObject plus re-hash, or none.

Run: `.venv/bin/python -m bench.multipart_s3_complete [--sizes-mib 64 256]`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.figures import Figure, fmt
from tests.support import multipart_client as mp
from tests.support import s3_part_checksums as s3_harness
from tests.support.aws_server import provision_aws_stack
from tests.support.file_client import FileClient
from tests.support.server_process import running_server

MIB = 1024 * 1024
PART_MIB = 16
COMMAND = ".venv/bin/python -m bench.multipart_s3_complete"


@dataclass(frozen=True)
class Run:
    size: int
    part_checksums: bool
    seconds: float
    object_reads: int


def _content(size: int) -> bytes:
    block = os.urandom(MIB)
    return b"".join(
        hashlib.sha256(n.to_bytes(8, "big")).digest() + block[32:] for n in range(size // MIB)
    )


def complete_once(files: FileClient, content: bytes, part_checksums: bool) -> Run:
    upload = mp.create(
        files,
        "bench.bin",
        len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        partChecksums=part_checksums,
    )
    etags = mp.send_parts(files, upload, content, range(1, upload.part_count + 1))
    started = time.perf_counter()
    answer = mp.complete(files, upload.file_id, mp.parts_list(etags))
    seconds = time.perf_counter() - started
    if "errors" in answer:
        raise RuntimeError(f"completeUpload failed: {answer['errors']}")
    reads = s3_harness.reads_of_file(upload.file_id)
    files.data("mutation($id: ID!) { deleteFile(id: $id) }", {"id": upload.file_id})
    return Run(len(content), part_checksums, seconds, reads)


def measure(sizes_mib: list[int]) -> list[Run]:
    stack = provision_aws_stack("bench-mpc")
    largest = max(sizes_mib) * MIB
    env = {
        **stack.env,
        "DEMOBACKEND_MAX_UPLOAD_BYTES": str(largest),
        "DEMOBACKEND_STORAGE_QUOTA_BYTES": str(4 * largest),
        "DEMOBACKEND_MULTIPART_PART_BYTES": str(PART_MIB * MIB),
        # The checksum-free runs are the old way, allowed here so they can be compared.
        "DEMOBACKEND_MULTIPART_INLINE_VERIFY_MAX_BYTES": str(largest),
        "DEMOBACKEND_REQUEST_TIMEOUT_SECONDS": "600",
        "DEMOBACKEND_LOG_LEVEL": "WARNING",
    }
    runs = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-mpc-") as data_dir,
        running_server(Path(data_dir), **env) as server,
    ):
        token = stack.token_for("bench")
        with FileClient.over_http(server.base_url, token, timeout=600) as files:
            for size_mib in sorted(sizes_mib):
                content = _content(size_mib * MIB)
                for part_checksums in (True, False):
                    runs.append(complete_once(files, content, part_checksums))
    return runs


def figures(runs: list[Run]) -> list[Figure]:
    by = {(run.size, run.part_checksums): run for run in runs}
    small, large = min(run.size for run in runs), max(run.size for run in runs)
    args = f"--sizes-mib {small // MIB} {large // MIB}"
    return [
        Figure(
            name=f"S3 completeUpload {large // MIB} MiB: part checksums / read back",
            what="completeUpload through the real server on moto's S3, composite check vs "
            "streamed re-hash",
            command=f"{COMMAND} {args}",
            value=by[(large, True)].seconds,
            unit="s",
            baseline=by[(large, False)].seconds,
            baseline_what="the same file without part checksums (read back and hashed)",
            note=f"GetObject by the server: {by[(large, True)].object_reads} vs "
            f"{by[(large, False)].object_reads}",
        ),
        Figure(
            name="S3 completeUpload with part checksums: large / small",
            what=f"{large // MIB} MiB vs {small // MIB} MiB, composite check",
            command=f"{COMMAND} {args}",
            value=by[(large, True)].seconds,
            unit="s",
            baseline=by[(small, True)].seconds,
            baseline_what=f"{small // MIB} MiB",
            note="no read of the object: should not grow like the file",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes-mib", type=int, nargs=2, default=[64, 256])
    args = parser.parse_args(argv)
    runs = measure(args.sizes_mib)
    for run in runs:
        how = "part checksums" if run.part_checksums else "read back"
        print(
            f"{run.size // MIB} MiB, {how}: completeUpload {run.seconds:.2f} s, "
            f"GetObject {run.object_reads}"
        )
    for figure in figures(runs):
        ratio = f", ratio {figure.ratio:.2f}" if figure.ratio is not None else ""
        print(
            f"{figure.name}: {fmt(figure.value)} {figure.unit} "
            f"(baseline {fmt(figure.baseline)}{ratio})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
