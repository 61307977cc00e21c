"""A fault-injecting HTTP proxy on 127.0.0.1 between the app and moto's server.

The app's AWS endpoint points here; each request is named by service and operation
(``dynamodb:TransactWriteItems`` from X-Amz-Target, ``s3:GET`` by method, ``jwks`` for a
pool's key set, ``cognito:...``) and either forwarded to moto or answered with a fault:

- ``throttle``: DynamoDB's ProvisionedThroughputExceededException (400), S3's SlowDown (503);
- ``error``: a 500 (InternalServerError / InternalError);
- ``latency``: ``seconds`` of delay, then forwarded;
- ``reset``: the connection is reset (TCP RST), no answer;
- ``timeout``: ``seconds`` of silence, then a reset;
- ``lose_response``: forwarded (so applied), then answered 500: the unkind case where a
  write happened but its answer was lost.

moto ignores TransactWriteItems' ClientRequestToken; DynamoDB honours it (a repeat within
10 minutes is answered as the first, not applied again). The proxy does what DynamoDB
does, so the adapter's retries are tested against AWS's contract, not moto's shortcut.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import random
import socket
import struct
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

FaultKind = Literal["throttle", "error", "latency", "reset", "timeout", "lose_response"]
_MAX_ARRIVALS = 1_000_000
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    rate: float = 1.0  # share of the matching calls it hits
    seconds: float = 0.0  # latency / timeout


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class FaultProxy:
    def __init__(self, upstream: str, *, seed: int = 7) -> None:
        parts = urllib.parse.urlsplit(upstream)
        assert parts.hostname == "127.0.0.1" and parts.port is not None
        self._upstream = (parts.hostname, parts.port)
        self._faults: dict[str, Fault] = {}
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._tokens: dict[str, _Answer] = {}
        # moto's threaded server races concurrent DynamoDB requests (TransactWriteItems
        # deep-copies the table while another request changes it: a 500 AWS would never
        # give). DynamoDB itself is one at a time here; injected latency stays parallel.
        self._dynamodb = threading.Lock()
        self._in_flight: dict[str, threading.Lock] = {}
        self.arrived: Counter[str] = Counter()  # every request, by "service:operation"
        self.forwarded: Counter[str] = Counter()  # those that reached moto
        self.faulted: Counter[str] = Counter()
        # (time.time(), operation) of each arrival, bounded: bench/brownout.py lines them
        # up with the server's breaker log lines.
        self.arrivals: list[tuple[float, str]] = []
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def inject(self, target: str, fault: Fault) -> None:
        """``target``: a service ("dynamodb", "s3", "jwks") or one operation of it."""
        with self._lock:
            self._faults[target] = fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def calls(self, service: str) -> int:
        with self._lock:
            return sum(n for name, n in self.arrived.items() if name.split(":")[0] == service)

    def _token_lock(self, token: str | None) -> Any:
        """A repeat of a request still in flight waits for it, as DynamoDB makes a repeat
        of a running transaction wait or fail rather than apply it twice."""
        if token is None:
            return contextlib.nullcontext()
        with self._lock:
            return self._in_flight.setdefault(token, threading.Lock())

    def _pick(self, operation: str) -> Fault | None:
        with self._lock:
            self.arrived[operation] += 1
            if len(self.arrivals) < _MAX_ARRIVALS:
                self.arrivals.append((time.time(), operation))
            fault = self._faults.get(operation) or self._faults.get(operation.split(":")[0])
            if fault is None or self._random.random() >= fault.rate:
                return None
            self.faulted[operation] += 1
            return fault

    def _forward(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes):
        connection = http.client.HTTPConnection(*self._upstream, timeout=30)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP:
                    connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            # A HEAD answer's Content-Length is the object's size (HeadObject reads it).
            dropped = _HOP_BY_HOP - {"content-length"} if method == "HEAD" else _HOP_BY_HOP
            answer = _Answer(
                response.status,
                [(k, v) for k, v in response.getheaders() if k.lower() not in dropped],
                response.read(),
            )
        finally:
            connection.close()
        with self._lock:
            self.forwarded[_operation(method, path, headers)] += 1
        return answer

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = list(self.headers.items())
                operation = _operation(self.command, self.path, headers)
                fault = proxy._pick(operation)
                if fault is not None and fault.kind in ("reset", "timeout"):
                    time.sleep(fault.seconds if fault.kind == "timeout" else 0)
                    self._reset()
                    return
                if fault is not None and fault.kind == "latency":
                    time.sleep(fault.seconds)
                if fault is not None and fault.kind in ("throttle", "error"):
                    self._send(_fault_answer(operation, fault.kind))
                    return
                token = _client_token(operation, body)
                with proxy._token_lock(token):
                    with proxy._lock:
                        seen = proxy._tokens.get(token) if token else None
                    if seen is not None:
                        self._send(seen)  # DynamoDB's idempotency: not applied again
                        return
                    if operation.startswith("dynamodb:"):
                        with proxy._dynamodb:
                            answer = proxy._forward(self.command, self.path, headers, body)
                    else:
                        answer = proxy._forward(self.command, self.path, headers, body)
                    if token and answer.status == 200:
                        with proxy._lock:
                            proxy._tokens[token] = answer
                if fault is not None and fault.kind == "lose_response":
                    answer = _fault_answer(operation, "error")
                self._send(answer)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

            def _send(self, answer: _Answer) -> None:
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                if not any(name.lower() == "content-length" for name, _ in answer.headers):
                    self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer.body)

            def _reset(self) -> None:
                # SO_LINGER 0: close() sends RST, as a crashed or cut-off peer would.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                self.connection.close()

        return Handler

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that resets its own connection is part of the game here


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


def _operation(method: str, path: str, headers: list[tuple[str, str]]) -> str:
    target = next((v for k, v in headers if k.lower() == "x-amz-target"), "")
    if target.startswith("DynamoDB_"):
        return f"dynamodb:{target.partition('.')[2]}"
    if target.startswith("AWSCognitoIdentityProviderService"):
        return f"cognito:{target.partition('.')[2]}"
    if path.endswith("/.well-known/jwks.json"):
        return "jwks"
    return f"s3:{method}"


def _client_token(operation: str, body: bytes) -> str | None:
    if operation != "dynamodb:TransactWriteItems":
        return None
    token = json.loads(body or b"{}").get("ClientRequestToken")
    return token if isinstance(token, str) else None


def _fault_answer(operation: str, kind: str) -> _Answer:
    service = operation.split(":")[0]
    if service in ("dynamodb", "cognito"):
        code = (
            "ProvisionedThroughputExceededException"
            if kind == "throttle"
            else "InternalServerError"
        )
        body = json.dumps(
            {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"}
        )
        status = 400 if kind == "throttle" else 500
        return _Answer(status, [("Content-Type", "application/x-amz-json-1.0")], body.encode())
    if service == "s3":
        code, status = ("SlowDown", 503) if kind == "throttle" else ("InternalError", 500)
        xml = f"<Error><Code>{code}</Code><Message>injected</Message></Error>"
        return _Answer(status, [("Content-Type", "application/xml")], xml.encode())
    return _Answer(
        503 if kind == "throttle" else 500, [("Content-Type", "text/plain")], b"injected"
    )
