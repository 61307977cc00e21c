"""The persisted-operation allow-list reaches the function: the packager ships a checked
file at the package root and the template points the function at it only when
PersistedOperations=true."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts import package_lambda
from scripts.package_lambda import (
    PERSISTED_OPERATIONS_NAME,
    PackagingError,
    check_persisted_operations,
)
from tests.infra.allow_list import write_allow_list
from tests.infra.cfn import load_template


def test_the_function_reads_the_list_only_when_the_parameter_says_so() -> None:
    template = load_template()
    assert template["Parameters"]["PersistedOperations"]["Default"] == "false"
    assert template["Conditions"]["PersistedOperationsOnly"] == {
        "Fn::Equals": [{"Ref": "PersistedOperations"}, "true"]
    }
    env = template["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert env["DEMOBACKEND_PERSISTED_OPERATIONS_FILE"] == {
        "Fn::If": [
            "PersistedOperationsOnly",
            f"/var/task/{PERSISTED_OPERATIONS_NAME}",
            {"Ref": "AWS::NoValue"},
        ]
    }


def test_a_valid_list_passes_the_packagers_check(tmp_path: Path) -> None:
    check_persisted_operations(write_allow_list(tmp_path / "ops.json"))


@pytest.mark.parametrize(
    "content",
    ["not json", "{}", '{"sha256:00": "query { me { id } }"}'],
    ids=["not-json", "empty", "hash-mismatch"],
)
def test_the_packager_refuses_a_list_the_function_would_refuse(
    tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ops.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PackagingError, match="--persisted-operations"):
        check_persisted_operations(path)
    # Refused before anything is built: no pip run, no output folder.
    output = tmp_path / "lambda"
    code = package_lambda.main(["--output", str(output), "--persisted-operations", str(path)])
    assert code == 1
    assert "--persisted-operations" in capsys.readouterr().err
    assert not output.exists()
