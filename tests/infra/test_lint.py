"""cfn-lint and the SAM CLI accept infra/template.yaml, and refuse a broken one.

Three views of the template: cfn-lint on the SAM template (SAM's own schemas), `sam
validate --lint` and `sam validate` (SAM's translator), and cfn-lint on the CloudFormation
that SAM's transform produces, where dependency cycles show (a rollback alarm on the API's
metrics was one: the deployment group waits on the alarm, the alarm names the API, the API
integrates the alias, and the alias waits on the deployment group).
"""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.infra.cfn import INFRA_DIR, TEMPLATE_PATH, dump_template, load_template, props
from tests.infra.tools import cfn_lint, run, sam_cli, sam_env, sam_python

# What SAM generates cannot carry a resource's Metadata, so the transformed template's
# exceptions are here, each with its reason:
# - W2001: SAM inlines the DeploymentType parameter into the deployment group; the
#   parameter is unused there by design.
# - ES1007: S3's permission names the alias; its EventInvokeConfig (Qualifier live, with
#   the DLQ) is SAM's too and the rule does not match the two (asserted below instead).
# - WS1002: API Gateway and S3 both invoke the alias, by design (ApiFunction's Metadata).
TRANSFORMED_IGNORES = (
    "--ignore-checks",
    "W2001",
    "--ignore-checks",
    "ES1007",
    "--ignore-checks",
    "WS1002",
)
# What SAM's transform sees: CloudFormation passes parameter values in; a zip on S3 is what
# `sam deploy` puts in CodeUri.
TRANSFORM_SCRIPT = """
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

class NoManagedPolicies:
    def load(self):
        return {}

with open(sys.argv[1], encoding="utf-8") as source:
    template = yaml_parse(source.read())
for resource in template["Resources"].values():
    if resource["Type"] == "AWS::Serverless::Function":
        resource["Properties"]["CodeUri"] = "s3://artifacts-bucket/api.zip"
parameters = json.loads(sys.argv[3])
with open(sys.argv[2], "w", encoding="utf-8") as target:
    json.dump(transform(template, parameters, NoManagedPolicies()), target, indent=1)
"""
PARAMETER_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "existing-pool-cors-copies": {
        "ExistingUserPoolId": "eu-west-1_AbCdEf123",
        "ExistingUserPoolClientIds": "abc123,def456",
        "CorsOrigins": "https://app.example.com,https://admin.example.com",
        "AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:ops",
        "BackupCopyRegion": "eu-central-1",
        "FilesReplicaBucket": "demobackend-production-files-replica",
        "LogsFirehoseArn": "arn:aws:firehose:eu-west-1:123456789012:deliverystream/elk",
        "SmokeUserSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:smoke-AbCdEf",
        "ReservedConcurrency": 50,
        "Tracing": "true",
        "DeploymentType": "AllAtOnce",
    },
}


def _lint(path: Path, *extra: str) -> tuple[int, str]:
    result = run([cfn_lint(), *extra, "--", path])
    return result.returncode, result.stdout + result.stderr


def test_cfn_lint_is_clean_including_informational_rules() -> None:
    code, output = _lint(TEMPLATE_PATH, "--include-checks", "I")
    assert code == 0, output


# cfn-lint-serverless (a dev dependency): AWS's serverless rules (DLQs, retries, log
# retention, tracing, ...). Findings are fixed, or ignored in the resource's Metadata with
# the reason written beside them.
SERVERLESS_RULES = ("--append-rules", "cfn_lint_serverless.rules")


def test_the_serverless_rules_pass() -> None:
    code, output = _lint(TEMPLATE_PATH, *SERVERLESS_RULES)
    assert code == 0, output


def test_the_serverless_rules_refuse_a_queue_without_a_reason(tmp_path: Path) -> None:
    template = load_template()
    del template["Resources"]["UploadEventsDlq"]["Metadata"]
    code, output = _lint(dump_template(template, tmp_path / "template.yaml"), *SERVERLESS_RULES)
    assert code != 0
    assert "ES6000" in output


def test_cfn_lint_refuses_a_broken_template(tmp_path: Path) -> None:
    template = load_template()
    props(template["Resources"]["Table"])["BillingMode"] = "ON_DEMAND"
    code, output = _lint(dump_template(template, tmp_path / "template.yaml"))
    assert code != 0
    assert "ON_DEMAND" in output


def test_sam_validate_lint() -> None:
    result = run(
        [sam_cli(), "validate", "--lint", "-t", TEMPLATE_PATH], cwd=INFRA_DIR, env=sam_env()
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_translates_the_template() -> None:
    result = run([sam_cli(), "validate", "-t", TEMPLATE_PATH], cwd=INFRA_DIR, env=sam_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_sam_validate_refuses_a_broken_template(tmp_path: Path) -> None:
    template = load_template()
    props(template["Resources"]["ApiFunction"])["AutoPublishAlias"] = "not valid!"
    broken = dump_template(template, tmp_path / "template.yaml")
    result = run([sam_cli(), "validate", "-t", broken], cwd=tmp_path, env=sam_env())
    assert result.returncode != 0
    assert "AutoPublishAlias" in result.stdout + result.stderr


def _transform(template: Path, out: Path, parameters: dict[str, Any]) -> Path:
    result = run(
        [sam_python(), "-c", TRANSFORM_SCRIPT, template, out, json.dumps(parameters)],
        env=sam_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.mark.parametrize("parameters", PARAMETER_SETS.values(), ids=PARAMETER_SETS.keys())
def test_the_transformed_template_is_clean(tmp_path: Path, parameters: dict[str, Any]) -> None:
    transformed = _transform(TEMPLATE_PATH, tmp_path / "transformed.json", parameters)
    code, output = _lint(transformed, *TRANSFORMED_IGNORES, *SERVERLESS_RULES)
    assert code == 0, output
    resources = json.loads(transformed.read_text(encoding="utf-8"))["Resources"]
    # Every route and the S3 notification invoke the alias, so SnapStart and the gradual
    # deployment apply to them.
    body = resources["HttpApi"]["Properties"]["Body"]
    for methods in body["paths"].values():
        for operation in methods.values():
            uri = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            assert "${ApiFunctionAliaslive}" in uri
    notification = resources["FilesBucket"]["Properties"]["NotificationConfiguration"]
    assert notification["LambdaConfigurations"][0]["Function"] == {"Ref": "ApiFunctionAliaslive"}
    # Failed upload events of the alias (what S3 invokes) go to the dead-letter queue.
    [config] = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig"
        and r["Properties"]["FunctionName"] == {"Ref": "ApiFunction"}
    ]
    assert config["Qualifier"] == "live"
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["UploadEventsDlq", "Arn"]
    }


def test_a_rollback_alarm_on_api_metrics_is_a_dependency_cycle(tmp_path: Path) -> None:
    template = load_template()
    preference = props(template["Resources"]["ApiFunction"])["DeploymentPreference"]
    preference["Alarms"].append({"Ref": "Api5xxRateAlarm"})
    source = dump_template(template, tmp_path / "template.yaml")
    transformed = _transform(source, tmp_path / "transformed.json", {})
    code, output = _lint(transformed, *TRANSFORMED_IGNORES)
    assert code != 0
    assert "E3004" in output  # circular dependencies
