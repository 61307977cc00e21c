"""What a Lambda cold start loads: the first build on the AWS composition reads settings
without pydantic and leaves out the REST shim, its OpenAPI document, the local blob
endpoint, Strawberry's federation directives and tarfile (bench/cold_import.py measures
what that saves); ``/rest`` still answers, built on its first request."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# Production's choices; clients are created, nothing is called.
AWS_ENV = {
    "DEMOBACKEND_BACKEND": "aws",
    "DEMOBACKEND_BUCKET": "cold-bucket",
    "DEMOBACKEND_AUTH_MODE": "cognito",
    "DEMOBACKEND_COGNITO_USER_POOL_ID": "us-east-1_cold",
    "DEMOBACKEND_COGNITO_CLIENT_IDS": "cold-client",
    "DEMOBACKEND_CURSOR_SECRET": "0" * 64,
    "AWS_ACCESS_KEY_ID": "cold",
    "AWS_SECRET_ACCESS_KEY": "cold",
    "AWS_DEFAULT_REGION": "us-east-1",
}
NOT_ON_THE_COLD_PATH = (
    "pydantic",
    "pydantic_settings",
    "api.rest",
    "api.openapi",
    "api.rest_documents",
    "api.blob_routes",
    "adapters.blobs.local",
    # Strawberry imports it only to look for federation directives (none here).
    "strawberry.federation.schema_directives",
    "tarfile",  # only data exports write archives
)
CHILD = """
import json, sys
import api.lambda_handler as entry
from api.snapstart import http_api_event

def loaded(names):
    return sorted(m for m in sys.modules if any(m == n or m.startswith(n + ".") for n in names))

names = json.loads(sys.argv[1])
entry.get_handler()
built = loaded(names)
response = entry.handler(http_api_event("GET", "/rest/openapi.json"), None)
print(json.dumps({
    "built": built,
    "status": response["statusCode"],
    "openapi": json.loads(response["body"]).get("openapi"),
    "after": loaded(["api.rest", "api.openapi"]),
}))
"""


def _child_outcome(code: str, argument: str, env: dict[str, str] | None = None) -> Any:
    """Runs ``code`` in a fresh interpreter (what a cold start is) and reads the JSON
    document it prints last."""
    done = subprocess.run(
        [sys.executable, "-c", code, argument],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_first_build_leaves_out_what_a_graphql_request_does_not_need(
    tmp_path: Path,
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.upper().startswith("DEMOBACKEND_")},
        **AWS_ENV,
        "DEMOBACKEND_DATA_DIR": str(tmp_path),
    }
    outcome = _child_outcome(CHILD, json.dumps(NOT_ON_THE_COLD_PATH), env=env)
    assert outcome["built"] == []
    # /rest is there all the same: the first request under it builds the shim.
    assert (outcome["status"], outcome["openapi"]) == (200, "3.1.0")
    assert outcome["after"] == ["api.openapi", "api.rest"]


COLLECTOR_CHILD = """
import gc, json, sys
if sys.argv[1] == "off":
    gc.disable()
import api.lambda_handler
frozen_by_import = gc.get_freeze_count()
garbage = []
garbage.append(garbage)  # a cycle made after the import: the collector still finds it
del garbage
print(json.dumps({
    "enabled": gc.isenabled(),
    "frozen": frozen_by_import,
    "collected": gc.collect() if gc.isenabled() else None,
}))
"""


def test_the_import_leaves_the_collector_as_it_found_it_and_its_objects_frozen() -> None:
    """The entry point's import runs with the cyclic collector paused (bench/cold_import.py:
    its passes over the frameworks' and our modules were ~15 ms of CPU), then freezes what
    it made; afterwards the collector runs as before, and an application that turned it off
    finds it still off."""
    outcomes = {}
    for state in ("on", "off"):
        outcomes[state] = _child_outcome(COLLECTOR_CHILD, state)
    assert outcomes["on"]["enabled"] is True
    assert outcomes["on"]["collected"] >= 1
    assert outcomes["off"]["enabled"] is False
    # The modules, the schema's types: tens of thousands of objects no collection walks.
    assert outcomes["on"]["frozen"] > 10_000
