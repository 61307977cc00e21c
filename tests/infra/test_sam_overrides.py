"""scripts/sam_overrides.py: samconfig's overrides plus the pager's ARN, as deploy.yml
passes them, and what CloudFormation's rules then say about them."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest

from scripts.sam_overrides import OverrideError, configured, merged
from tests.infra.cfn import REPO_ROOT, load_template
from tests.infra.checks_ops import rule_failures

TOPIC = "arn:aws:sns:eu-west-1:123456789012:pager"
SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:smoke-user-AbCdEf"


def _parsed(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in shlex.split(text))


def test_the_pager_and_test_user_are_added_to_productions_overrides() -> None:
    extra = {"AlarmTopicArn": TOPIC, "SmokeUserSecretArn": SECRET}
    values = _parsed(merged("production", [f"{k}={v}" for k, v in extra.items()]))
    assert values == {**configured("production"), **extra}
    assert rule_failures(load_template(), values) == []


def test_production_as_configured_alone_is_refused_by_the_template() -> None:
    failures = rule_failures(load_template(), configured("production"))
    assert failures and "AlarmTopicArn" in failures[0]


def test_staging_deploys_without_a_pager_but_not_without_a_test_user() -> None:
    failures = rule_failures(load_template(), configured("staging"))
    assert failures and all("SmokeUserSecretArn" in failure for failure in failures)
    staged = {**configured("staging"), "SmokeUserSecretArn": SECRET}
    assert rule_failures(load_template(), staged) == []


@pytest.mark.parametrize(
    "extra", ["AlarmTopicArn=", "AlarmTopicArn", 'AlarmTopicArn=a"b', "no name=x"]
)
def test_an_unusable_value_is_refused(extra: str) -> None:
    with pytest.raises(OverrideError):
        merged("production", [extra])


def test_the_command_fails_clearly_when_the_ci_variable_is_unset() -> None:
    result = subprocess.run(  # the argv deploy.yml runs, with the variable empty
        [sys.executable, "-m", "scripts.sam_overrides", "production", "AlarmTopicArn="],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "AlarmTopicArn is empty" in result.stderr
    assert "Traceback" not in result.stderr
