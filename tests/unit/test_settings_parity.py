"""api/settings.py reads settings by hand (no pydantic on the cold start); for every
setting and any value it must give what the pydantic model it replaced gave: the same
value, or the same one-line message naming the variable (tests/support/settings_reference.py
is that model)."""

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import pytest
from annotated_types import Ge, Gt, Le, MaxLen, MinLen
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from api.settings import Secret, Settings, SettingsError, load_settings, rule_of
from tests.support.settings_reference import ReferenceSettings, reference_outcome

FIELDS = {spec.name: spec for spec in dataclasses.fields(Settings)}
HEX_64 = "ab" * 32
SIGN_AFTER_ZEROS = re.compile(r"0+[+-]")

# Shapes every reader of a kind has to get right: signs, underscores, fractions, spaces,
# case, other scripts' digits, infinities, empties.
NUMBERS = [
    "0", "1", "-1", "+42", " 42 ", "\t7\n", "4_2", "4__2", "_42", "1_", "42.0", "42.00",
    "42.", "42.5", "1_0.0", "-0.0", "1e2", "1E2", "0x10", "", "  ", "٤٢", "4 2", "--1",
    "99999999999999999999999", "inf", "-inf", "Infinity", "nan", "+nan", ".5", "5.",
    "1.5_5", "1e1_0", "0.05", "0.5", "1000.5",
]  # fmt: skip
BOOLS = ["true", "True", "TRUE", "yes", "on", "1", "0", "off", "t", "Y", "n", "no", "F",
         " true", "", "2", "none", "None", "yes please"]  # fmt: skip
TEXTS = ["", "x", "ab", "abc", "demobackend", "a" * 255, "a" * 256, "http://h", "https://h/p",
         "https://h/p?q", "ftp://h", "http://", "http://h\n", "DemoBackend", "a b",
         "x/y.z#1:2"]  # fmt: skip


def _bounds(name: str) -> list[str]:
    rule = rule_of(FIELDS[name])
    edges: list[str] = []
    for bound in (rule.ge, rule.gt, rule.le):
        if bound is not None:
            edges += [str(bound), str(bound - 1), str(bound + 1), f"{bound}.0", f"{bound}.5"]
    for length in (rule.min_length, rule.max_length):
        if length is not None:
            edges += ["a" * (length - 1), "a" * length, "a" * (length + 1)]
    return edges


def _samples(name: str) -> list[str]:
    kind = str(FIELDS[name].type)
    if "bool" in kind:
        return BOOLS
    if "int" in kind or "float" in kind:
        return NUMBERS + _bounds(name)
    return TEXTS + _bounds(name) + [HEX_64, HEX_64 + "0", HEX_64[:-1], "local", "aws", "INFO"]


def _ours(values: dict[str, object]) -> Settings | str:
    try:
        return load_settings(**values)
    except SettingsError as exc:
        return str(exc)


def _plain(value: Any) -> Any:
    if isinstance(value, Secret | SecretStr):
        return ("secret", value.get_secret_value())
    return value


def assert_same(values: dict[str, object]) -> None:
    ours, reference = _ours(values), reference_outcome(values)
    if isinstance(reference, str) or isinstance(ours, str):
        assert ours == reference, values
        return
    for name in FIELDS:
        mine, theirs = _plain(getattr(ours, name)), _plain(getattr(reference, name))
        assert (mine, type(mine)) == (theirs, type(theirs)), (name, values)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("DEMOBACKEND_"):
            monkeypatch.delenv(name)


def test_the_same_settings_with_the_same_defaults_and_bounds() -> None:
    reference = ReferenceSettings.model_fields
    assert list(FIELDS) == list(reference)
    for name, spec in FIELDS.items():
        assert spec.default == reference[name].default, name
        rule = rule_of(spec)
        theirs: dict[str, object] = {}
        for constraint in reference[name].metadata:
            for kind, key, attr in (
                (Ge, "ge", "ge"),
                (Gt, "gt", "gt"),
                (Le, "le", "le"),
                (MinLen, "min_length", "min_length"),
                (MaxLen, "max_length", "max_length"),
            ):
                if isinstance(constraint, kind):
                    theirs[key] = getattr(constraint, attr)
            if getattr(constraint, "pattern", None) is not None:
                theirs["pattern"] = constraint.pattern
        ours = {k: v for k, v in dataclasses.asdict(rule).items() if v is not None}
        assert ours == theirs, name


@pytest.mark.parametrize("name", list(FIELDS))
def test_every_setting_reads_every_shape_as_pydantic_did(name: str) -> None:
    for raw in _samples(name):
        assert_same({name: raw})


@pytest.mark.parametrize(
    "values",
    [
        {"auth_mode": "cognito"},
        {"auth_mode": "cognito", "cognito_user_pool_id": "p"},
        {"auth_mode": "cognito", "cognito_user_pool_id": "p", "cognito_client_ids": " , "},
        {"auth_mode": "cognito", "cognito_user_pool_id": "p", "cognito_client_ids": "a, b,"},
        {"backend": "aws"},
        {"backend": "aws", "bucket": "b"},
        {"backend": "aws", "bucket": "b", "cursor_secret": HEX_64},
        {"backend": "aws", "bucket": "b", "cursor_secret": "zz"},
        {"backend": "aws", "bucket": "b", "cursor_secret": HEX_64,
         "pending_upload_ttl_seconds": "999999"},
        {"export_runner": "lambda"},
        {"backend": "aws", "bucket": "b", "cursor_secret": HEX_64, "test_item_store_delay_ms": "5"},
        {"backend": "aws", "bucket": "b", "cursor_secret": HEX_64, "test_item_store_delay_ms": "5",
         "aws_endpoint_url": "http://127.0.0.1:1"},
        {"upload_url_expiry_seconds": "3600", "pending_upload_ttl_seconds": "60"},
        {"port": "x", "backend": "nope"},  # the first field's problem is the one named
        {"backup_encryption_key": HEX_64 + "00"},
        {"data_dir": Path("/tmp/x"), "port": 8080, "cors_origins": ("a", "b")},  # from code
        {"unknown_setting": "ignored"},
    ],
)  # fmt: skip
def test_rules_between_settings_and_values_from_code(values: dict[str, object]) -> None:
    assert_same(values)


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(
        ["port", "max_upload_bytes", "request_timeout_seconds", "retry_budget_ratio", "tracing"]
    ),
    raw=st.text(alphabet=st.sampled_from("0123456789+-_.eEinfatyos \t"), max_size=8)
    | st.text(max_size=6),
)
def test_random_text_reads_as_pydantic_read_it(name: str, raw: str) -> None:
    assume(not SIGN_AFTER_ZEROS.match(raw.strip()))  # the one difference, below
    assert_same({name: raw})


def test_a_sign_after_leading_zeros_is_refused() -> None:
    """pydantic-core dropped leading zeros before reading the sign, so "0-0" was 0 and
    "00-1" was -1; a sign after a digit is a typo, refused with the usual message."""
    assert getattr(reference_outcome({"max_aliases": "00-1"}), "max_aliases", None) is None
    assert getattr(reference_outcome({"max_aliases": "0-0"}), "max_aliases", None) == 0
    for raw in ("0-0", "00-1", "0-5"):
        with pytest.raises(SettingsError, match="unable to parse string as an integer"):
            load_settings(max_aliases=raw)


def test_names_are_matched_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("demobackend_Port", "8081")
    monkeypatch.setenv("DEMOBACKEND_MAX_QUERY_DEPTH", "12")
    settings = load_settings(max_query_depth=3)  # explicit values win
    assert (settings.port, settings.max_query_depth) == (8081, 3)


def test_secrets_are_never_shown() -> None:
    settings = load_settings(cursor_secret=HEX_64)
    assert HEX_64 not in repr(settings) and HEX_64 not in str(settings.cursor_secret)
