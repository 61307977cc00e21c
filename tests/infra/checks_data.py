"""Checks on the data's resources: the bucket, the table, the user pool (each also against
infra/resources.json, the definition the tests create their emulated resources from) and
the backups."""

from __future__ import annotations

import re
from typing import Any

from ops.aws_resources import resources as shared_resources
from ops.aws_resources import table_drift
from tests.infra.cfn import (
    Template,
    as_list,
    parameter,
    props,
    resources,
    sub_text,
    walk,
)
from tests.infra.checks_common import (
    BUCKET,
    HTTP_API,
    TABLE,
    TEMPLATE_ONLY_LIFECYCLE_RULES,
    bucket_props,
    canonical,
    retained,
    sorted_dicts,
    unless,
    whole_bucket,
)


def check_bucket_security(template: Template) -> list[str]:
    bucket = resources(template).get(BUCKET)
    if bucket is None or bucket.get("Type") != "AWS::S3::Bucket":
        return [f"no AWS::S3::Bucket named {BUCKET}"]
    p = props(bucket)
    problems: list[str] = []
    block = p.get("PublicAccessBlockConfiguration", {})
    for flag in (
        "BlockPublicAcls",
        "IgnorePublicAcls",
        "BlockPublicPolicy",
        "RestrictPublicBuckets",
    ):
        if block.get(flag) is not True:
            problems.append(f"bucket: {flag} must be true")
    rules = p.get("OwnershipControls", {}).get("Rules", [])
    if [rule.get("ObjectOwnership") for rule in rules] != ["BucketOwnerEnforced"]:
        problems.append("bucket: ACLs must be disabled (ObjectOwnership BucketOwnerEnforced)")
    sse = p.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    algorithms = {rule.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for rule in sse}
    if not sse or not algorithms <= {"AES256", "aws:kms", "aws:kms:dsse"}:
        problems.append("bucket: default encryption must be on")
    if p.get("VersioningConfiguration", {}).get("Status") != "Enabled":
        problems.append("bucket: versioning must be Enabled")
    problems += retained(BUCKET, bucket)
    return problems


def check_bucket_tls_only(template: Template) -> list[str]:
    for policy in resources(template, "AWS::S3::BucketPolicy").values():
        p = props(policy)
        if p.get("Bucket") != {"Ref": BUCKET}:
            continue
        for statement in as_list(p.get("PolicyDocument", {}).get("Statement", [])):
            condition = statement.get("Condition", {}).get("Bool", {})
            targets = [sub_text(r) or r for r in as_list(statement.get("Resource"))]
            if (
                statement.get("Effect") == "Deny"
                and statement.get("Principal") in ("*", {"AWS": "*"})
                and as_list(statement.get("Action")) in (["s3:*"], ["*"])
                and condition.get("aws:SecureTransport") in ("false", False)
                and {"Fn::GetAtt": [BUCKET, "Arn"]} in targets
                and f"${{{BUCKET}.Arn}}/*" in targets
            ):
                return []
    return ["bucket: no policy denies every s3 action without TLS (aws:SecureTransport false)"]


def check_bucket_lifecycle(template: Template) -> list[str]:
    problems: list[str] = []
    rules = bucket_props(template).get("LifecycleConfiguration", {}).get("Rules", [])
    enabled = [rule for rule in rules if rule.get("Status") == "Enabled"]
    if not any(
        rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation") == 1
        and whole_bucket(rule)
        for rule in enabled
    ):
        problems.append("bucket: incomplete multipart uploads must be aborted after 1 day")
    if not any("NoncurrentVersionExpiration" in rule for rule in enabled if whole_bucket(rule)):
        problems.append("bucket: noncurrent versions must expire")
    if not any(
        rule.get("NoncurrentVersionTransitions") or rule.get("NoncurrentVersionTransition")
        for rule in enabled
    ):
        problems.append("bucket: noncurrent versions must move to a cheaper storage class")
    if not any(
        {"Key": "upload", "Value": "pending"} in rule.get("TagFilters", [])
        and rule.get("ExpirationInDays")
        for rule in enabled
    ):
        problems.append("bucket: unconfirmed uploads (tag upload=pending) must expire")
    return problems


def check_cors_from_parameter(template: Template) -> list[str]:
    """Browser origins come from the CorsOrigins parameter, never a literal (or '*')."""
    split = {"Fn::Split": [",", {"Ref": "CorsOrigins"}]}
    problems: list[str] = []
    bucket_cors = bucket_props(template).get("CorsConfiguration")
    if (
        unless(bucket_cors, "HasCorsOrigins", lambda c: c["CorsRules"][0]["AllowedOrigins"])
        != split
    ):
        problems.append("bucket: CORS AllowedOrigins must be !Split the CorsOrigins parameter")
    api_cors = props(resources(template).get(HTTP_API, {})).get("CorsConfiguration")
    if unless(api_cors, "HasCorsOrigins", lambda c: c["AllowOrigins"]) != split:
        problems.append("api: CORS AllowOrigins must be !Split the CorsOrigins parameter")
    return problems


def check_table(template: Template) -> list[str]:
    table = resources(template).get(TABLE)
    if table is None or table.get("Type") != "AWS::DynamoDB::Table":
        return [f"no AWS::DynamoDB::Table named {TABLE}"]
    p = props(table)
    problems: list[str] = []
    if p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is not True:
        problems.append("table: point-in-time recovery must be on")
    if p.get("DeletionProtectionEnabled") is not True:
        problems.append("table: deletion protection must be on")
    if p.get("SSESpecification", {}).get("SSEEnabled") is not True:
        problems.append("table: SSE (KMS) must be on")
    problems += retained(TABLE, table)
    return problems


def check_table_matches_resources_json(template: Template) -> list[str]:
    """Keys, indexes, billing, stream, TTL and PITR exactly as infra/resources.json (which
    the tests' tables are created from) and as the ItemStore adapters assume."""
    spec = shared_resources()["table"]
    create = spec["create"]
    p = props(resources(template).get(TABLE, {}))
    problems: list[str] = []
    for key in ("BillingMode", "StreamSpecification"):
        expected = create.get(key)
        actual = p.get(key)
        if key == "StreamSpecification":
            expected = {"StreamViewType": expected["StreamViewType"]}
        if actual != expected:
            problems.append(f"table: {key} {actual!r} != resources.json {expected!r}")
    for key in ("AttributeDefinitions", "KeySchema"):
        if sorted_dicts(p.get(key, [])) != sorted_dicts(create[key]):
            problems.append(f"table: {key} differs from resources.json")
    ours = {index["IndexName"]: index for index in p.get("GlobalSecondaryIndexes", [])}
    theirs = {index["IndexName"]: index for index in create.get("GlobalSecondaryIndexes", [])}
    if set(ours) != set(theirs):
        problems.append(f"table: indexes {sorted(ours)} != resources.json {sorted(theirs)}")
    for name in set(ours) & set(theirs):
        for key in ("KeySchema", "Projection"):
            if canonical(ours[name].get(key)) != canonical(theirs[name].get(key)):
                problems.append(f"table: index {name} {key} differs from resources.json")
    ttl = p.get("TimeToLiveSpecification", {})
    if ttl != spec["timeToLive"]:
        problems.append(f"table: TTL {ttl!r} != resources.json {spec['timeToLive']!r}")
    pitr = p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled", False)
    if pitr is not spec["pointInTimeRecovery"]:
        problems.append("table: PITR differs from resources.json")
    as_created = {
        "AttributeDefinitions": p.get("AttributeDefinitions", []),
        "KeySchema": p.get("KeySchema", []),
        "GlobalSecondaryIndexes": p.get("GlobalSecondaryIndexes", []),
    }
    problems += [f"table: {problem}" for problem in table_drift(as_created)]
    return problems


def check_bucket_matches_resources_json(template: Template) -> list[str]:
    spec = shared_resources()["bucket"]
    p = bucket_props(template)
    problems: list[str] = []
    if p.get("PublicAccessBlockConfiguration") != spec["publicAccessBlock"]:
        problems.append("bucket: public access block differs from resources.json")
    if p.get("VersioningConfiguration") != spec["versioning"]:
        problems.append("bucket: versioning differs from resources.json")
    # PutBucketEncryption says ApplyServerSideEncryptionByDefault, CloudFormation
    # ServerSideEncryptionByDefault.
    ours = [
        {
            "ApplyServerSideEncryptionByDefault": rule.get("ServerSideEncryptionByDefault"),
            "BucketKeyEnabled": rule.get("BucketKeyEnabled"),
        }
        for rule in p.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    ]
    if ours != spec["encryption"]["Rules"]:
        problems.append("bucket: encryption differs from resources.json")
    cors = unless(p.get("CorsConfiguration"), "HasCorsOrigins", lambda c: c["CorsRules"])
    expected_cors = [
        {
            "AllowedMethods": rule["AllowedMethods"],
            "AllowedHeaders": rule["AllowedHeaders"],
            "ExposedHeaders": rule["ExposeHeaders"],
            "MaxAge": rule["MaxAgeSeconds"],
        }
        for rule in spec["cors"]["CORSRules"]
    ]
    actual_cors = [
        {key: value for key, value in rule.items() if key != "AllowedOrigins"}
        for rule in (cors if isinstance(cors, list) else [])
    ]
    if actual_cors != expected_cors:
        problems.append("bucket: CORS rules (but origins) differ from resources.json")
    template_rules = {
        rule.get("Id"): rule for rule in p.get("LifecycleConfiguration", {}).get("Rules", [])
    }
    for rule in spec["lifecycle"]["Rules"]:
        expected = lifecycle_rule_as_cloudformation(rule)
        if template_rules.get(rule["ID"]) != expected:
            problems.append(f"bucket: lifecycle rule {rule['ID']} differs from resources.json")
    extra = set(template_rules) - {rule["ID"] for rule in spec["lifecycle"]["Rules"]}
    if extra - TEMPLATE_ONLY_LIFECYCLE_RULES:
        problems.append(f"bucket: lifecycle rules {sorted(extra)} are not in resources.json")
    return problems


def lifecycle_rule_as_cloudformation(rule: dict[str, Any]) -> dict[str, Any]:
    """A PutBucketLifecycleConfiguration rule (resources.json) as AWS::S3::Bucket spells it."""
    converted: dict[str, Any] = {"Id": rule["ID"], "Status": rule["Status"]}
    filter_ = rule.get("Filter", {})
    if "Prefix" in filter_:
        converted["Prefix"] = filter_["Prefix"]
    if "Tag" in filter_:
        converted["TagFilters"] = [filter_["Tag"]]
    for key, value in rule.items():
        if key in ("ID", "Status", "Filter"):
            continue
        if key == "Expiration":
            converted["ExpirationInDays"] = value["Days"]
        elif key == "NoncurrentVersionTransitions":
            converted[key] = [
                {"StorageClass": t["StorageClass"], "TransitionInDays": t["NoncurrentDays"]}
                for t in value
            ]
        else:
            converted[key] = value
    return converted


def check_user_pool_matches_resources_json(template: Template) -> list[str]:
    spec = shared_resources()["userPool"]
    found = resources(template)
    problems: list[str] = []
    pool = props(found.get("UserPool", {}))
    for key, expected in spec["create"].items():
        actual = pool.get(key)
        if key == "Policies":
            actual = {
                "PasswordPolicy": {
                    name: value
                    for name, value in (actual or {}).get("PasswordPolicy", {}).items()
                    if name in expected["PasswordPolicy"]
                }
            }
        if canonical(actual) != canonical(expected):
            problems.append(f"user pool: {key} differs from resources.json")
    client = props(found.get("UserPoolClient", {}))
    for key, expected in spec["client"].items():
        if client.get(key) != expected:
            problems.append(f"user pool client: {key} differs from resources.json")
    groups = {
        props(group).get("GroupName"): props(group).get("Description")
        for group in resources(template, "AWS::Cognito::UserPoolGroup").values()
    }
    if groups != {group["GroupName"]: group["Description"] for group in spec["groups"]}:
        problems.append("user pool: groups differ from resources.json")
    if "UserPool" in found:
        if pool.get("DeletionProtection") != "ACTIVE":
            problems.append("user pool: deletion protection must be ACTIVE")
        problems += retained("UserPool", found["UserPool"])
    return problems


def check_backups(template: Template) -> list[str]:
    problems: list[str] = []
    plans = resources(template, "AWS::Backup::BackupPlan")
    hourly = []
    for plan in plans.values():
        for rule in props(plan).get("BackupPlan", {}).get("BackupPlanRule", []):
            if runs_at_least_hourly(str(rule.get("ScheduleExpression", ""))):
                hourly.append(rule)
    if not hourly:
        problems.append("backup: no rule runs at least hourly (RPO 1 h)")
    for rule in hourly:
        if parameter(template, rule.get("Lifecycle", {}).get("DeleteAfterDays")) is None:
            problems.append(f"backup: rule {rule.get('RuleName')} retention must be a parameter")
    selected = [
        resource
        for selection in resources(template, "AWS::Backup::BackupSelection").values()
        for resource in props(selection).get("BackupSelection", {}).get("Resources", [])
    ]
    if {"Fn::GetAtt": [TABLE, "Arn"]} not in selected:
        problems.append("backup: the table is not selected")
    copies = [
        node
        for node in walk(plans)
        if isinstance(node, dict) and "DestinationBackupVaultArn" in node
    ]
    if not copies:
        problems.append("backup: no optional copy to a second region")
    for name, vault in resources(template, "AWS::Backup::BackupVault").items():
        problems += retained(name, vault)
    return problems


def runs_at_least_hourly(expression: str) -> bool:
    """Whether an AWS Backup schedule (cron(...) or rate(...)) fires every hour or more."""
    rate = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours)\)", expression.strip())
    if rate:
        return int(rate[1]) * (1 if rate[2].startswith("minute") else 60) <= 60
    cron = re.fullmatch(r"cron\((.+)\)", expression.strip())
    if cron is None:
        return False
    fields = cron[1].split()
    if len(fields) != 6:
        return False
    minutes, hours, day_of_month, month, day_of_week, _year = fields
    every_day = {day_of_month, day_of_week} <= {"*", "?"} and month == "*"
    return every_day and hours in ("*", "*/1", "0/1") and re.fullmatch(r"\d+", minutes) is not None
