"""Paging backward (``last``/``before``) through the real `demobackend serve` process over
HTTP while another client keeps uploading: every file that existed from the start is
listed exactly once and in order, and refusals are BAD_USER_INPUT."""

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.file_client import FileClient, dev_idp_token
from tests.support.server_process import running_server

pytestmark = pytest.mark.slow

ORIGINALS = 24
MY_FILES = """query($first: Int, $after: String, $last: Int, $before: String) {
  myFiles(first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { name } }
    pageInfo { hasPreviousPage hasNextPage startCursor endCursor }
  }
}"""


def names(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["name"] for edge in connection["edges"]]


def test_backward_pages_have_no_duplicates_or_gaps_while_files_are_added(
    tmp_path: Path,
) -> None:
    with running_server(tmp_path) as server:
        token = dev_idp_token(server.base_url, "alice")
        with (
            FileClient.over_http(server.base_url, token) as reader,
            FileClient.over_http(server.base_url, token) as writer,
        ):
            for i in range(ORIGINALS):
                reader.upload(f"old{i:02d}.txt", "text/plain", b"x")
            stop = threading.Event()
            added: list[str] = []

            def keep_adding() -> None:
                while not stop.is_set() and len(added) < 40:
                    name = f"new{len(added):02d}.txt"
                    writer.upload(name, "text/plain", b"y")
                    added.append(name)

            adder = threading.Thread(target=keep_adding)
            adder.start()
            try:
                while not added and adder.is_alive():  # the inserts are under way
                    stop.wait(0.01)
                seen: list[str] = []
                before = None
                for _ in range(60):
                    page = reader.data(MY_FILES, {"last": 3, "before": before})["myFiles"]
                    assert len(page["edges"]) <= 3
                    seen = names(page) + seen
                    if not page["pageInfo"]["hasPreviousPage"]:
                        break
                    before = page["pageInfo"]["startCursor"]
                else:
                    raise AssertionError("paging backward did not reach the newest file")
            finally:
                stop.set()
                adder.join()

            assert len(seen) == len(set(seen)), "a file was listed twice"
            old = [name for name in seen if name.startswith("old")]
            assert old == [f"old{i:02d}.txt" for i in reversed(range(ORIGINALS))]
            new = [name for name in seen if name.startswith("new")]
            assert new, "no insert overlapped the paging"
            # Newcomers are newest: listed ahead of every original, newest first, and none
            # skipped that was added before the page that reached it.
            assert seen == new + old
            assert new == sorted(new, reverse=True)
            assert new == [f"new{i:02d}.txt" for i in reversed(range(len(new)))]

            # Forward from the start lists the same files in the same order.
            forward = reader.data(MY_FILES, {"first": 100})["myFiles"]
            listed = names(forward)
            assert [name for name in listed if name in seen] == seen


def test_mixing_first_and_last_is_refused_over_http(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        token = dev_idp_token(server.base_url, "alice")
        response = httpx.post(
            f"{server.base_url}/graphql",
            json={"query": MY_FILES, "variables": {"first": 2, "last": 2}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200
        errors = response.json()["errors"]
        assert [error["extensions"]["code"] for error in errors] == ["BAD_USER_INPUT"]
        assert "first or last" in errors[0]["message"]
        assert errors[0]["extensions"]["requestId"] == response.headers["x-request-id"]
        assert "Traceback" not in response.text
