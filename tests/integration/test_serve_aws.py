"""`make serve-aws` and `make token-aws` as a user runs them, black-box: the emulated AWS
path binds DEMOBACKEND_HOST/PORT, and token-aws finds it through DEMOBACKEND_DATA_DIR,
creates the user in its Cognito pool and prints an ID token as its last line."""

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server_process import ROOT, free_port, server_env

pytestmark = pytest.mark.slow
ME = "{ me { username groups } }"
START_TIMEOUT_SECONDS = 60.0


def _token_aws(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The Makefile's own target; BIN is this interpreter's and STAMP empty, so make does not
    # try to (re)build a virtual environment.
    return subprocess.run(
        [
            "make",
            "-s",
            "--no-print-directory",
            "token-aws",
            *args,
            f"BIN={Path(sys.executable).parent}",
            "STAMP=",
        ],
        cwd=ROOT,
        env=server_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def serve_aws(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data_dir, port = tmp_path / "data", free_port()
    log = (tmp_path / "serve-aws.log").open("w")
    env = server_env(data_dir, DEMOBACKEND_HOST="127.0.0.1", DEMOBACKEND_PORT=str(port))
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.serve_aws_emulated"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            assert process.poll() is None, (tmp_path / "serve-aws.log").read_text()
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve-aws did not come up"
            time.sleep(0.2)
        yield base_url, data_dir
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def test_token_aws_signs_users_in_against_a_running_serve_aws(
    serve_aws: tuple[str, Path],
) -> None:
    base_url, data_dir = serve_aws
    for args, expected in (
        (["NAME=bob", "GROUP=admin"], {"username": "bob", "groups": ["admin"]}),
        (["NAME=carol"], {"username": "carol", "groups": []}),
        (["NAME=bob"], {"username": "bob", "groups": ["admin"]}),  # exists already
    ):
        done = _token_aws(data_dir, *args)
        assert done.returncode == 0, done.stderr
        token = done.stdout.strip().splitlines()[-1]
        answer = httpx.post(
            f"{base_url}/graphql",
            json={"query": ME},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        assert answer == {"data": {"me": expected}}


def test_token_aws_without_a_running_emulator_says_so(tmp_path: Path) -> None:
    done = _token_aws(tmp_path / "nothing-here", "NAME=bob")
    assert done.returncode != 0
    assert "no running `make serve-aws` found" in done.stderr
    assert "Traceback" not in done.stderr
