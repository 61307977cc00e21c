"""A Cognito-shaped JWKS endpoint on 127.0.0.1 for the token attack suite.

Serves ``/<pool id>/.well-known/jwks.json`` (the path moto and the composition root use
when ``AWS_ENDPOINT_URL`` is set), one key set per pool, so each test owns a pool and its
own fetch count. The key set can be rotated while the server runs, and every GET of a
pool's JWKS is counted: that count is how a test sees the verifier's refetch limit.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

JWKS_SUFFIX = "/.well-known/jwks.json"


class JwksServer:
    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._documents: dict[str, bytes] = {}
        self._fetches: dict[str, int] = {}

    def publish(self, pool_id: str, document: dict[str, Any]) -> None:
        """Serve ``document`` as the pool's JWKS from now on (a key rotation)."""
        body = json.dumps(document).encode()
        with self._lock:
            self._documents[pool_id] = body
            self._fetches.setdefault(pool_id, 0)

    def fetches(self, pool_id: str) -> int:
        with self._lock:
            return self._fetches.get(pool_id, 0)

    def document_for(self, path: str) -> bytes | None:
        """The JWKS served at ``path`` (counted as a fetch), or None for a 404."""
        if not path.endswith(JWKS_SUFFIX):
            return None
        pool_id = path.removeprefix("/").removesuffix(JWKS_SUFFIX)
        with self._lock:
            if pool_id in self._documents:
                self._fetches[pool_id] += 1
            return self._documents.get(pool_id)


def _handler_for(server: JwksServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = server.document_for(self.path)
            status = 200 if body is not None else 404
            body = body if body is not None else b'{"message": "not found"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            # Quiet: the suite inspects captured output for leaks and wants only the app's.
            pass

    return Handler


@contextlib.contextmanager
def running_jwks_server() -> Iterator[JwksServer]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    server = JwksServer(f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.RequestHandlerClass = _handler_for(server)
    thread = threading.Thread(target=httpd.serve_forever, name="jwks-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
