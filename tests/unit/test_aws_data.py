"""botocore's data read as plain dicts (api/aws_data.py): the same data, in the same
order, with the same file precedence as botocore's own loader, the same services listed
for every model type, the same models loaded or refused by name, and the composition
root's clients read through it."""

import gzip
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

import botocore
import botocore.session
import pytest
from botocore.exceptions import UnknownServiceError
from botocore.loaders import JSONFileLoader, Loader

from api import aws_clients
from api.aws_data import PlainJsonFileLoader, SharedListingLoader, install_data_loader
from api.settings import Settings

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


def test_what_orjson_refuses_is_read_as_botocore_reads_it(tmp_path: Path) -> None:
    base = tmp_path / "service-2"
    base.with_name("service-2.json").write_text('{"max": 123456789012345678901234567890, "x": NaN}')
    theirs = JSONFileLoader().load_file(str(base))
    ours = PlainJsonFileLoader().load_file(str(base))
    assert ours["max"] == theirs["max"] == 123456789012345678901234567890
    assert ours["x"] != ours["x"] and theirs["x"] != theirs["x"]  # both NaN


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


# The model types the first build lists (service-2, endpoint-rule-set-1), and two it
# does not, whose files fewer services have.
LISTED_TYPES = ("service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2")


def _services_by_type(loader: Loader) -> dict[str, list[str]]:
    return {type_name: loader.list_available_services(type_name) for type_name in LISTED_TYPES}


def test_botocores_data_lists_the_same_services_for_every_type() -> None:
    theirs = Loader()
    ours = SharedListingLoader.like(Loader(), PlainJsonFileLoader())
    assert ours.search_paths == theirs.search_paths
    assert ours.extras_types == theirs.extras_types == ["sdk"]
    expected = _services_by_type(theirs)
    assert _services_by_type(ours) == expected
    assert {"dynamodb", "s3", "cognito-idp"} <= set(expected["service-2"])
    assert len(expected["paginators-1"]) < len(expected["service-2"])


def _user_models(root: Path) -> None:
    """A ~/.aws/models-like folder: a service of its own, a newer version of a builtin one,
    and the shapes botocore's walk passes over."""
    (root / "newsvc" / "2030-01-01").mkdir(parents=True)
    _write(root / "newsvc" / "2030-01-01" / "service-2", {"metadata": {}}, compressed=False)
    (root / "s3" / "2099-01-01").mkdir(parents=True)  # an older builtin service, extended
    _write(root / "s3" / "2099-01-01" / "service-2", {"metadata": {}}, compressed=True)
    (root / "pagesonly" / "2030-01-01").mkdir(parents=True)  # no service-2 in it
    _write(root / "pagesonly" / "2030-01-01" / "paginators-1", {}, compressed=False)
    (root / "empty").mkdir()
    (root / "stray-file.json").write_text("{}")  # a file, not a service folder
    (root / "filesonly").mkdir()  # a file where a version folder would be
    (root / "filesonly" / "service-2.json").write_text("{}")
    (root / "linked").symlink_to(root / "newsvc", target_is_directory=True)
    (root / "dangling").symlink_to(root / "nowhere")
    (root / "newsvc" / "broken-version").symlink_to(root / "nowhere")


def test_an_extra_data_path_lists_the_same_services(tmp_path: Path) -> None:
    _user_models(tmp_path / "models")
    paths = [str(tmp_path / "models"), str(tmp_path / "missing")]
    theirs = Loader(extra_search_paths=list(paths), file_loader=JSONFileLoader())
    ours = SharedListingLoader.like(theirs, PlainJsonFileLoader())
    assert ours.search_paths == theirs.search_paths
    expected = _services_by_type(theirs)
    assert _services_by_type(ours) == expected
    assert {"newsvc", "linked"} <= set(expected["service-2"])
    assert not {"pagesonly", "empty", "filesonly", "dangling"} & set(expected["service-2"])
    assert "pagesonly" in expected["paginators-1"]


# Names botocore knows, one it knows under another spelling, and names that are not a
# service folder at all.
MODEL_NAMES = (
    "dynamodb",
    "s3",
    "cognito-idp",
    "sqs",
    "apigatewaymanagementapi",
    "S3",
    "no-such-service",
    "",
    ".",
    "..",
    "s3/../dynamodb",
    "dynamodb/2012-08-10",
)


def _outcome(loader: Loader, name: str, type_name: str, api_version: str | None = None) -> Any:
    try:
        return "model", json.dumps(loader.load_service_model(name, type_name, api_version))
    except Exception as refusal:  # compared as botocore raises it, type and message
        return type(refusal).__name__, str(refusal)


@pytest.mark.parametrize("type_name", LISTED_TYPES)
def test_models_are_loaded_or_refused_by_name_as_botocore_does(type_name: str) -> None:
    theirs = Loader()
    ours = SharedListingLoader.like(Loader(), PlainJsonFileLoader())
    for name in MODEL_NAMES:
        assert _outcome(ours, name, type_name) == _outcome(theirs, name, type_name), name
    for version in ("2012-08-10", "1999-01-01"):  # asked for, and one there is not
        expected = _outcome(theirs, "dynamodb", type_name, version)
        assert _outcome(ours, "dynamodb", type_name, version) == expected


def test_user_models_are_loaded_or_refused_by_name_as_botocore_does(tmp_path: Path) -> None:
    _user_models(tmp_path / "models")
    paths = [str(tmp_path / "models"), str(tmp_path / "missing")]
    names = ("newsvc", "linked", "s3", "pagesonly", "empty", "filesonly", "dangling")
    for type_name in ("service-2", "paginators-1"):
        theirs = Loader(extra_search_paths=list(paths), file_loader=JSONFileLoader())
        ours = SharedListingLoader.like(theirs, PlainJsonFileLoader())
        for name in (*names, "stray-file.json", "newsvc/broken-version"):
            assert _outcome(ours, name, type_name) == _outcome(theirs, name, type_name), name
    assert _outcome(ours, "s3", "service-2")[1] == '{"metadata": {}}'  # the user's, newer


def test_a_known_service_is_loaded_without_listing_every_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ours = SharedListingLoader.like(Loader(), PlainJsonFileLoader())
    listed: list[str] = []
    monkeypatch.setattr(ours, "list_available_services", listed.append)
    assert "GetItem" in ours.load_service_model("dynamodb", "service-2")["operations"]
    assert listed == []


def test_the_session_reads_through_the_shared_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _user_models(tmp_path / "models")
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path / "models"))
    plain, ours = botocore.session.Session(), botocore.session.Session()
    install_data_loader(ours)
    loader = ours.get_component("data_loader")
    assert isinstance(loader, SharedListingLoader)
    assert isinstance(loader.file_loader, PlainJsonFileLoader)
    assert loader.search_paths == plain.get_component("data_loader").search_paths
    assert str(tmp_path / "models") in loader.search_paths
    assert ours.get_available_services() == plain.get_available_services()
    assert "newsvc" in ours.get_available_services()
    # The user's newer S3 model wins, as in botocore.
    assert ours.get_service_data("s3") == plain.get_service_data("s3") == {"metadata": {}}
    # An unknown name is refused as botocore refuses it, with the same listing.
    with pytest.raises(UnknownServiceError) as theirs_refusal:
        plain.get_service_model("no-such-service")
    with pytest.raises(UnknownServiceError) as our_refusal:
        ours.get_service_model("no-such-service")
    assert str(our_refusal.value) == str(theirs_refusal.value)


def test_the_composition_roots_session_reads_through_the_shared_listing() -> None:
    loader = aws_clients._core_session().get_component("data_loader")
    assert isinstance(loader, SharedListingLoader)
    assert isinstance(loader.file_loader, PlainJsonFileLoader)
