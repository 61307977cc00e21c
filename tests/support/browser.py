"""Browser-test plumbing that needs no Playwright at import time.

The skip rule lives here so every entry point applies it the same way: a missing browser,
driver or asset set skips a local run with the reason, and fails a CI run (CI set), so CI
can never pass by silently not running the browser.
"""

import ipaddress
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
import uvicorn
from starlette.types import ASGIApp

from api.graphiql import graphiql_assets_dir
from api.graphiql_assets import assets_installed, cdn_assets

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page, Request, Route

# Without the background-networking flags Chromium keeps dialling Google's hosts, which
# this closed network refuses; as root it needs --no-sandbox.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAUNCH_TIMEOUT_MS = 30_000
ACTION_TIMEOUT_MS = 15_000
THREAD_SERVER_START_SECONDS = 10.0


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(reason: str) -> None:
    """Skip locally; in CI, where the browser must really run, fail instead."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def chromium_executable() -> str:
    path = shutil.which("chromium")
    if path is None:
        skip_or_fail("chromium is not on PATH (apt-get install -y chromium)")
        raise AssertionError("unreachable")  # skip_or_fail always raises
    return path


def require_installed_assets() -> None:
    if not assets_installed(graphiql_assets_dir(), cdn_assets()):
        skip_or_fail(
            f"GraphiQL assets are not installed in {graphiql_assets_dir()} "
            "(run `make assets`): the page cannot render offline without them"
        )


def is_loopback_url(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss") or parts.hostname is None:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


@contextmanager
def serve_in_thread(app: ASGIApp) -> Iterator[str]:
    """Serve `app` with uvicorn on a loopback port of its own; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + THREAD_SERVER_START_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the in-thread uvicorn server did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@dataclass
class BrowserTab:
    """A page whose every non-loopback request is aborted, and what the page did."""

    page: "Page"
    aborted: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def route(self, route: "Route") -> None:
        url = route.request.url
        if is_loopback_url(url):
            route.continue_()
        else:
            self.aborted.append(url)
            route.abort("blockedbyclient")

    def on_request(self, request: "Request") -> None:
        self.requested.append(request.url)

    def on_console(self, message: "ConsoleMessage") -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def summary(self) -> str:
        return "\n".join(
            [
                f"url: {self.page.url}",
                f"aborted (non-loopback): {self.aborted}",
                f"console errors: {self.console_errors}",
                f"page errors: {self.page_errors}",
                f"requests: {self.requested}",
            ]
        )
