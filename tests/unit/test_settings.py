"""Settings come from DEMOBACKEND_* variables; a bad one is named in one line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_the_embedded_local_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("DEMOBACKEND_"):
            monkeypatch.delenv(name)
    settings = load_settings()
    assert (settings.backend, settings.auth_mode, settings.host) == ("local", "local", "127.0.0.1")
    assert settings.introspection_enabled


def test_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMOBACKEND_AUTH_MODE", "cognito")
    monkeypatch.setenv("DEMOBACKEND_COGNITO_USER_POOL_ID", "us-east-1_abc")
    monkeypatch.setenv("DEMOBACKEND_COGNITO_CLIENT_IDS", "web, mobile,")
    assert load_settings().client_ids == ("web", "mobile")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEMOBACKEND_PORT", "eighty"),
        ("DEMOBACKEND_PORT", "70000"),
        ("DEMOBACKEND_BACKEND", "postgres"),
        ("DEMOBACKEND_MAX_UPLOAD_BYTES", "0"),
        ("DEMOBACKEND_COGNITO_USER_POOL_ID", ""),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    if name == "DEMOBACKEND_COGNITO_USER_POOL_ID":
        monkeypatch.setenv("DEMOBACKEND_AUTH_MODE", "cognito")
        monkeypatch.setenv("DEMOBACKEND_COGNITO_CLIENT_IDS", "web")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert name in str(caught.value)
    assert "\n" not in str(caught.value)


def test_server_refuses_to_start_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "DEMOBACKEND_PORT": "not-a-port", "DEMOBACKEND_DATA_DIR": str(tmp_path)}
    finished = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [
        "demobackend: invalid setting DEMOBACKEND_PORT: "
        "Input should be a valid integer, unable to parse string as an integer"
    ]
    assert "Traceback" not in finished.stdout + finished.stderr
