"""Real subscription clients against the real server process (tests/support/server_process.py).

- ``NodeSubscriber``: the npm ``graphql-ws`` client (pinned in clients/package-lock.json,
  installed by ``make realtime-clients``) in a Node process, driven by JSON lines
  (clients/subscriber.mjs): exactly what a browser app using graphql-ws does.
- ``signed_in``: a user of the dev identity provider and their ID token.
- ``short_lived``: the same user's token re-signed by the server's own key with a
  lifetime of a few seconds (the dev IdP's TTL cannot go below a minute).

Locally a missing Node or npm install skips these tests with the command to run; under CI
it fails them, like the other npm test tools (tests/infra/tools.py).
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from jose import jwt

from tests.infra.tools import require

CLIENTS_DIR = Path(__file__).resolve().parent / "clients"
PASSWORD = "correct horse battery staple"
TIMEOUT_SECONDS = 10.0
EVENT_FIELDS = "kind fileId version at file { id name status description downloadUrl }"
ALL_EVENTS = f"subscription {{ fileEvents {{ {EVENT_FIELDS} }} }}"
ONE_FILE = f"subscription($id: ID) {{ fileEvents(fileId: $id) {{ {EVENT_FIELDS} }} }}"


def node_and_client() -> str:
    import shutil

    node = shutil.which("node")
    require(node, "Node.js", "apt-get install nodejs")
    installed = CLIENTS_DIR / "node_modules" / "graphql-ws" / "package.json"
    require(installed if installed.is_file() else None, "graphql-ws (npm)", "make realtime-clients")
    assert node is not None
    return node


@dataclass
class User:
    username: str
    user_id: str
    token: str

    @property
    def params(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def signed_in(base_url: str, username: str) -> User:
    with httpx.Client(base_url=base_url, timeout=TIMEOUT_SECONDS) as http:
        created = http.post("/auth/signup", json={"username": username, "password": PASSWORD})
        assert created.status_code == 201, created.text
        tokens = http.post("/auth/token", json={"username": username, "password": PASSWORD})
        assert tokens.status_code == 200, tokens.text
    return User(username, created.json()["userId"], tokens.json()["idToken"])


def short_lived(user: User, data_dir: Path, seconds: float) -> str:
    """``user``'s token with ``exp`` ``seconds`` from now, signed by the server's key."""
    claims = jwt.get_unverified_claims(user.token)
    header = jwt.get_unverified_header(user.token)
    claims["exp"] = int(time.time() + seconds)
    pem = (data_dir / "dev-idp-key.pem").read_text(encoding="ascii")
    return str(jwt.encode(claims, pem, algorithm="RS256", headers={"kid": header["kid"]}))


def graphql(base_url: str, user: User, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{base_url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {user.token}"},
        timeout=TIMEOUT_SECONDS,
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert not answer.get("errors"), answer
    data: dict[str, Any] = answer["data"]
    return data


class NodeSubscriber:
    """One graphql-ws client (one WebSocket) in a Node process: graphql-ws itself, or
    Apollo Client's GraphQLWsLink over it (``script="apollo.mjs"``)."""

    def __init__(
        self, base_url: str, params: dict[str, Any] | None, script: str = "subscriber.mjs"
    ) -> None:
        ws_url = base_url.replace("http://", "ws://", 1) + "/graphql"
        self._process = subprocess.Popen(
            [node_and_client(), str(CLIENTS_DIR / script), ws_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=CLIENTS_DIR,
        )
        self._lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self._taken: set[int] = set()
        threading.Thread(target=self._read, daemon=True).start()
        self._send({"op": "connect", "params": params})

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(json.loads(line))

    def _send(self, command: dict[str, Any]) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(command) + "\n")
        self._process.stdin.flush()

    def subscribe(self, sub_id: str, query: str, **variables: Any) -> None:
        self._send({"op": "subscribe", "id": sub_id, "query": query, "variables": variables})

    def unsubscribe(self, sub_id: str) -> None:
        self._send({"op": "unsubscribe", "id": sub_id})

    def wait_for(
        self, wanted: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT_SECONDS
    ) -> dict[str, Any]:
        """The first message ``wanted`` takes, among those seen already (each is returned
        once) or arriving within ``timeout``."""
        for message in self.seen:
            if id(message) not in self._taken and wanted(message):
                self._taken.add(id(message))
                return message
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"not received in {timeout}s; seen: {self.seen}")
            try:
                message = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(message)
            if wanted(message):
                self._taken.add(id(message))
                return message

    def drain(self, seconds: float) -> list[dict[str, Any]]:
        """What arrives within ``seconds`` besides keep-alive pings (for asserting that
        nothing does)."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                got.append(self._lines.get(timeout=remaining))
            except queue.Empty:
                break
        self.seen.extend(got)
        return [message for message in got if message["type"] != "ping"]

    def events(self, sub_id: str) -> list[dict[str, Any]]:
        return [
            m["payload"]["data"]["fileEvents"]
            for m in self.seen
            if m["type"] == "next" and m["id"] == sub_id
        ]

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                self._send({"op": "exit"})
                self._process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()


def is_type(kind: str, sub_id: str | None = None) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == kind and (sub_id is None or m.get("id") == sub_id)


def is_event(sub_id: str, kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: (
        m["type"] == "next"
        and m["id"] == sub_id
        and m["payload"].get("data", {}).get("fileEvents", {}).get("kind") == kind
    )
