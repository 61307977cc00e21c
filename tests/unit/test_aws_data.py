"""botocore's data read as plain dicts (api/aws_data.py): the same data, in the same
order, with the same file precedence as botocore's own loader, and the composition root's
clients read through it."""

import gzip
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

import botocore
import pytest
from botocore.loaders import JSONFileLoader

from api import aws_clients
from api.aws_data import PlainJsonFileLoader
from api.settings import Settings, load_settings

DATA = Path(botocore.__file__).parent / "data"
# What the first build on the AWS path reads, plus Cognito's model (the lazy client).
READ_AT_THE_FIRST_BUILD = (
    "endpoints",
    "partitions",
    "sdk-default-configuration",
    "_retry",
    "dynamodb/2012-08-10/service-2",
    "dynamodb/2012-08-10/endpoint-rule-set-1",
    "s3/2006-03-01/service-2",
    "s3/2006-03-01/service-2.sdk-extras",
    "s3/2006-03-01/endpoint-rule-set-1",
    "cognito-idp/2016-04-18/service-2",
)


def _ordered_dicts(value: Any) -> int:
    if isinstance(value, dict):
        own = 1 if isinstance(value, OrderedDict) else 0
        return own + sum(_ordered_dicts(element) for element in value.values())
    if isinstance(value, list):
        return sum(_ordered_dicts(element) for element in value)
    return 0


@pytest.mark.parametrize("name", READ_AT_THE_FIRST_BUILD)
def test_the_data_is_botocores_own_in_the_same_order(name: str) -> None:
    path = str(DATA / name)
    theirs = JSONFileLoader().load_file(path)
    ours = PlainJsonFileLoader().load_file(path)
    assert theirs is not None
    assert ours == theirs
    # Same keys in the same order, all the way down.
    assert json.dumps(ours) == json.dumps(theirs)
    assert _ordered_dicts(ours) == 0


def _write(path: Path, data: object, *, compressed: bool) -> None:
    raw = json.dumps(data).encode()
    if compressed:
        path.with_name(path.name + ".json.gz").write_bytes(gzip.compress(raw))
    else:
        path.with_name(path.name + ".json").write_text(raw.decode())


@pytest.mark.parametrize(
    "present",
    [(), ("plain",), ("compressed",), ("plain", "compressed")],
)
def test_files_are_found_and_chosen_as_botocore_does(
    tmp_path: Path, present: tuple[str, ...]
) -> None:
    base = tmp_path / "service-2"
    if "plain" in present:
        _write(base, {"from": "json"}, compressed=False)
    if "compressed" in present:
        _write(base, {"from": "gzip"}, compressed=True)
    theirs, ours = JSONFileLoader(), PlainJsonFileLoader()
    assert ours.exists(str(base)) is theirs.exists(str(base)) is bool(present)
    assert ours.load_file(str(base)) == theirs.load_file(str(base))
    if present == ("plain", "compressed"):  # the uncompressed file wins, as in botocore
        assert ours.load_file(str(base)) == {"from": "json"}


@pytest.fixture
def aws_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return load_settings(
        backend="aws",
        bucket="bucket",
        auth_mode="cognito",
        cognito_user_pool_id="us-east-1_pool",
        cognito_client_ids=("client",),
        cursor_secret="0" * 64,
        aws_endpoint_url="http://127.0.0.1:9",  # never called
    )


def test_the_clients_models_are_read_as_plain_dicts(aws_settings: Settings) -> None:
    before = len(aws_clients.created_clients())
    try:
        clients = aws_clients.dynamodb_client(aws_settings), aws_clients.s3_client(aws_settings)
        for client in clients:
            model = client.meta.service_model
            assert type(model.metadata) is dict
            # and the client still knows its operations, its endpoint and its signer
            assert "GetObject" in model.operation_names or "GetItem" in model.operation_names
            assert client.meta.endpoint_url == "http://127.0.0.1:9"
    finally:
        del aws_clients._created[before:]
