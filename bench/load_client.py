"""The load generator of bench/load.py: one process, N keep-alive HTTP/1.1 connections on
asyncio, each sending its next request as soon as the last answer is in (closed loop).

Raw sockets, requests built as bytes, answers parsed by Content-Length (or chunked): no
HTTP client library in the loop, so one generator process costs a fraction of what the
server spends per request. Its own CPU time is reported so the caller can tell whether
the generator, not the server, was the limit.

Input: one JSON argument (see ``Plan``). Output: one JSON line on stdout (see ``_report``).
Mixes:
- ``hello``: GET / (bench/hello_app.py);
- ``app``: per step, by weight: ``me``; a page of 20 of the caller's files with owners;
  a search; or an upload (createUpload, PUT of the bytes to the signed URL, completeUpload:
  three requests). Every answer must be 2xx and, for GraphQL, carry no ``errors``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

ME = "query Me { me { username } }"
PAGE = "query Page { myFiles(first: 20) { edges { node { id name size owner { username } } } } }"
SEARCH = 'query Find { search(query: "report", first: 10) { edges { score node { __typename } } } }'
CREATE = (
    "mutation Create($input: CreateUploadInput!) { createUpload(input: $input) "
    "{ file { id } upload { url method headers } } }"
)
COMPLETE = "mutation Complete($id: ID!) { completeUpload(id: $id) { id status } }"
WEIGHTS = {"me": 30, "page": 35, "search": 20, "upload": 15}
# The same mix without uploads (bench/brownout.py: S3's presigned POST form is not what
# this generator speaks).
READ_WEIGHTS = {"me": 30, "page": 35, "search": 20}
CONTENT = b"load test bytes, a small report\n" * 8
TIMEOUT_SECONDS = 30.0
MAX_LATENCIES = 400_000  # bounded memory even for a long run


@dataclass
class Plan:
    host: str
    port: int
    connections: int
    duration_s: float
    max_requests: int
    mix: str  # "hello" | "app" | "reads"
    tokens: list[str] = field(default_factory=list)
    seed: int = 0


class ProtocolError(Exception):
    pass


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, target: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        length, chunked, close = None, False, False
        for line in header_lines:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and "close" in value.lower():
                close = True
        if chunked:
            payload = await self._chunks()
        elif length is not None:
            payload = await self.reader.readexactly(length)
        else:
            raise ProtocolError("answer without a length")
        if close:
            await self.close()
        return status, payload

    async def _chunks(self) -> bytes:
        assert self.reader is not None
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            data = await self.reader.readexactly(size + 2)
            if size == 0:
                return b"".join(parts)
            parts.append(data[:-2])

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


@dataclass
class Tally:
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    requests: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    by_op: dict[str, int] = field(default_factory=dict)

    def add(self, op: str, started: float, ok: bool, detail: str) -> None:
        self.requests += 1
        self.by_op[op] = self.by_op.get(op, 0) + 1
        if self.requests <= MAX_LATENCIES:
            elapsed = (time.perf_counter() - started) * 1000
            self.latencies_ms.setdefault(op, []).append(elapsed)
        if not ok:
            self.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(f"{op}: {detail[:300]}")


class Worker:
    def __init__(self, plan: Plan, tally: Tally, index: int, deadline: float) -> None:
        self.plan, self.tally, self.deadline = plan, tally, deadline
        self.conn = Connection(plan.host, plan.port)
        self.rng = random.Random(plan.seed * 1000 + index)
        self.token = plan.tokens[index % len(plan.tokens)] if plan.tokens else ""
        self.serial = 0

    def more(self) -> bool:
        return time.perf_counter() < self.deadline and self.tally.requests < self.plan.max_requests

    async def run(self) -> None:
        try:
            while self.more():
                if self.plan.mix == "hello":
                    await self._send("hello", "GET", "/", {})
                else:
                    await self._step()
        finally:
            await self.conn.close()

    async def _send(
        self, op: str, method: str, target: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[bool, bytes]:
        started = time.perf_counter()
        try:
            status, payload = await asyncio.wait_for(
                self.conn.request(method, target, headers, body), TIMEOUT_SECONDS
            )
        except (OSError, asyncio.IncompleteReadError, ProtocolError, TimeoutError) as exc:
            await self.conn.close()
            self.tally.add(op, started, False, repr(exc))
            return False, b""
        ok = 200 <= status < 300
        if ok and op != "hello" and op != "put":
            ok = b'"errors"' not in payload
        self.tally.add(op, started, ok, f"{status} {payload[:300]!r}")
        return ok, payload

    async def _graphql(
        self, op: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        ok, payload = await self._send(op, "POST", "/graphql", headers, body)
        if not ok:
            return None
        data: dict[str, Any] = json.loads(payload)["data"]
        return data

    async def _step(self) -> None:
        weights = READ_WEIGHTS if self.plan.mix == "reads" else WEIGHTS
        op = self.rng.choices(list(weights), weights=list(weights.values()))[0]
        if op == "me":
            await self._graphql(op, ME)
        elif op == "page":
            await self._graphql(op, PAGE)
        elif op == "search":
            await self._graphql(op, SEARCH)
        else:
            await self._upload()

    async def _upload(self) -> None:
        self.serial += 1
        declared = {
            "name": f"load-{os.getpid()}-{self.serial}-report.txt",
            "contentType": "text/plain",
            "size": len(CONTENT),
            "sha256": hashlib.sha256(CONTENT).hexdigest(),
        }
        created = await self._graphql("createUpload", CREATE, {"input": declared})
        if created is None:
            return
        upload = created["createUpload"]["upload"]
        parts = urlsplit(upload["url"])
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        ok, _ = await self._send("put", upload["method"], target, dict(upload["headers"]), CONTENT)
        if ok:
            await self._graphql(
                "completeUpload", COMPLETE, {"id": created["createUpload"]["file"]["id"]}
            )


def _report(tally: Tally, elapsed: float, cpu: float) -> dict[str, Any]:
    return {
        "requests": tally.requests,
        "errors": tally.errors,
        "error_samples": tally.error_samples,
        "by_op": tally.by_op,
        "elapsed_s": elapsed,
        "cpu_s": cpu,
        "latencies_ms": tally.latencies_ms,
    }


async def run(plan: Plan) -> dict[str, Any]:
    tally = Tally()
    cpu_before = time.process_time()
    started = time.perf_counter()
    deadline = started + plan.duration_s
    workers = [Worker(plan, tally, index, deadline) for index in range(plan.connections)]
    await asyncio.gather(*(worker.run() for worker in workers))
    return _report(tally, time.perf_counter() - started, time.process_time() - cpu_before)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    plan = Plan(**json.loads(args[0]))
    print(json.dumps(asyncio.run(run(plan))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
