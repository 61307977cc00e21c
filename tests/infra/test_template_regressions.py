"""Every property check notices a regression: a copy of the template is broken one way at a
time, and the check that guards that property must report it (while the untouched template
passes, test_template.py). A check that could not fail would show up here."""

from collections.abc import Callable
from typing import Any

import pytest

from tests.infra.cfn import Template, load_template, props, resources
from tests.infra.checks import CHECKS

Mutation = Callable[[Template], None]


def _res(template: Template, name: str) -> dict[str, Any]:
    return props(resources(template)[name])


def _event(template: Template, name: str) -> dict[str, Any]:
    event: dict[str, Any] = _res(template, "ApiFunction")["Events"][name]
    return event


def _statement(template: Template, policy: str, index: int = 0) -> dict[str, Any]:
    for entry in _res(template, "ApiFunctionRole")["Policies"]:
        if entry["PolicyName"] == policy:
            statement: dict[str, Any] = entry["PolicyDocument"]["Statement"][index]
            return statement
    raise KeyError(policy)


def _set_bpa(t: Template) -> None:
    _res(t, "FilesBucket")["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] = False


def _allow_acls(t: Template) -> None:
    _res(t, "FilesBucket")["OwnershipControls"]["Rules"][0]["ObjectOwnership"] = "ObjectWriter"


def _no_versioning(t: Template) -> None:
    _res(t, "FilesBucket")["VersioningConfiguration"]["Status"] = "Suspended"


def _no_bucket_encryption(t: Template) -> None:
    del _res(t, "FilesBucket")["BucketEncryption"]


def _bucket_deletable(t: Template) -> None:
    resources(t)["FilesBucket"]["DeletionPolicy"] = "Delete"


def _drop_tls_statement(t: Template) -> None:
    statements = _res(t, "FilesBucketPolicy")["PolicyDocument"]["Statement"]
    statements[:] = [s for s in statements if s.get("Sid") != "DenyInsecureTransport"]


def _tls_deny_on_objects_only(t: Template) -> None:
    statement = _res(t, "FilesBucketPolicy")["PolicyDocument"]["Statement"][0]
    statement["Resource"] = statement["Resource"][1:]


def _no_abort_multipart(t: Template) -> None:
    rules = _res(t, "FilesBucket")["LifecycleConfiguration"]["Rules"]
    rules[:] = [r for r in rules if "AbortIncompleteMultipartUpload" not in r]


def _no_transition(t: Template) -> None:
    rules = _res(t, "FilesBucket")["LifecycleConfiguration"]["Rules"]
    rules[:] = [r for r in rules if "NoncurrentVersionTransitions" not in r]


def _literal_cors(t: Template) -> None:
    cors = _res(t, "HttpApi")["CorsConfiguration"]["Fn::If"][1]
    cors["AllowOrigins"] = ["*"]


def _no_pitr(t: Template) -> None:
    _res(t, "Table")["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] = False


def _no_deletion_protection(t: Template) -> None:
    _res(t, "Table")["DeletionProtectionEnabled"] = False


def _table_replaceable(t: Template) -> None:
    resources(t)["Table"]["UpdateReplacePolicy"] = "Delete"


def _ttl_renamed(t: Template) -> None:
    _res(t, "Table")["TimeToLiveSpecification"]["AttributeName"] = "ttl"


def _gsi_rekeyed(t: Template) -> None:
    _res(t, "Table")["GlobalSecondaryIndexes"][1]["KeySchema"][1]["AttributeName"] = "gsi1sk"


def _index_dropped(t: Template) -> None:
    del _res(t, "Table")["GlobalSecondaryIndexes"][1]


def _lifecycle_drift(t: Template) -> None:
    rules = _res(t, "FilesBucket")["LifecycleConfiguration"]["Rules"]
    for rule in rules:
        if rule["Id"] == "expire-unconfirmed-uploads":
            rule["ExpirationInDays"] = 30


def _weak_passwords(t: Template) -> None:
    _res(t, "UserPool")["Policies"]["PasswordPolicy"]["MinimumLength"] = 6


def _graphql_post_public(t: Template) -> None:
    _event(t, "GraphqlPost")["Properties"]["Auth"] = {"Authorizer": "NONE"}


def _rest_delete_public(t: Template) -> None:
    _event(t, "RestDelete")["Properties"]["Auth"] = {"Authorizer": "NONE"}


def _healthz_behind_authorizer(t: Template) -> None:
    del _event(t, "Healthz")["Properties"]["Auth"]


def _playground_behind_authorizer(t: Template) -> None:
    _event(t, "GraphqlGet")["Properties"]["Auth"] = {"Authorizer": "CognitoJwt"}


def _new_public_route(t: Template) -> None:
    _res(t, "ApiFunction")["Events"]["Debug"] = {
        "Type": "HttpApi",
        "Properties": {
            "ApiId": {"Ref": "HttpApi"},
            "Method": "GET",
            "Path": "/debug",
            "Auth": {"Authorizer": "NONE"},
        },
    }


def _any_rest_route(t: Template) -> None:
    _event(t, "RestGet")["Properties"]["Method"] = "ANY"


def _no_default_authorizer(t: Template) -> None:
    del _res(t, "HttpApi")["Auth"]["DefaultAuthorizer"]


def _literal_throttling(t: Template) -> None:
    _res(t, "HttpApi")["DefaultRouteSettings"]["ThrottlingRateLimit"] = 10000


def _s3_star_action(t: Template) -> None:
    _statement(t, "blobs")["Action"] = "s3:*"


def _star_resource(t: Template) -> None:
    _statement(t, "items")["Resource"] = "*"


def _all_indexes(t: Template) -> None:
    _statement(t, "items")["Resource"][1] = {"Fn::Sub": "${Table.Arn}/index/*"}


def _whole_bucket_objects(t: Template) -> None:
    _statement(t, "blobs")["Resource"] = {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${AWS::StackName}-files-${AWS::AccountId}"
        "-${AWS::Region}/*"
    }


def _admin_managed_policy(t: Template) -> None:
    _res(t, "ApiFunctionRole")["ManagedPolicyArns"] = [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess"}
    ]


def _sam_role(t: Template) -> None:
    function = _res(t, "ApiFunction")
    del function["Role"]
    function["Policies"] = [{"DynamoDBCrudPolicy": {"TableName": {"Ref": "Table"}}}]


def _old_runtime(t: Template) -> None:
    _res(t, "ApiFunction")["Runtime"] = "python3.11"


def _x86(t: Template) -> None:
    _res(t, "ApiFunction")["Architectures"] = ["x86_64"]


def _long_timeout(t: Template) -> None:
    t["Parameters"]["FunctionTimeout"]["MaxValue"] = 60


def _no_snapstart(t: Template) -> None:
    del _res(t, "ApiFunction")["SnapStart"]


def _no_rollback_alarms(t: Template) -> None:
    del _res(t, "ApiFunction")["DeploymentPreference"]["Alarms"]


def _python_builder(t: Template) -> None:
    del resources(t)["ApiFunction"]["Metadata"]


def _env_typo(t: Template) -> None:
    variables = _res(t, "ApiFunction")["Environment"]["Variables"]
    variables["DEMOBACKEND_TABLENAME"] = variables.pop("DEMOBACKEND_TABLE_NAME")


def _plaintext_secret(t: Template) -> None:
    _res(t, "ApiFunction")["Environment"]["Variables"]["DEMOBACKEND_CURSOR_SECRET"] = "ab" * 32


def _bucket_by_ref(t: Template) -> None:
    _res(t, "ApiFunction")["Environment"]["Variables"]["DEMOBACKEND_BUCKET"] = {
        "Ref": "FilesBucket"
    }


def _upload_event_prefix(t: Template) -> None:
    rules = _event(t, "UploadCreated")["Properties"]["Filter"]["S3Key"]["Rules"]
    rules[0]["Value"] = "uploads/"


def _daily_backups_only(t: Template) -> None:
    rules = _res(t, "BackupPlan")["BackupPlan"]["BackupPlanRule"]
    rules[:] = [r for r in rules if r["RuleName"] != "hourly"]


def _every_two_hours(t: Template) -> None:
    rules = _res(t, "BackupPlan")["BackupPlan"]["BackupPlanRule"]
    rules[0]["ScheduleExpression"] = "cron(0 */2 ? * * *)"


def _table_not_backed_up(t: Template) -> None:
    _res(t, "BackupSelection")["BackupSelection"]["Resources"] = []


def _silent_alarm(t: Template) -> None:
    del _res(t, "FunctionThrottlesAlarm")["AlarmActions"]


def _no_p99_alarm(t: Template) -> None:
    del resources(t)["FunctionDurationP99Alarm"]


def _no_dynamodb_system_errors_alarm(t: Template) -> None:
    del resources(t)["TableSystemErrorsAlarm"]


def _log_group_arn(t: Template) -> None:
    _statement(t, "logs")["Resource"] = {"Fn::GetAtt": ["FunctionLogGroup", "Arn"]}


def _dashboard_not_json(t: Template) -> None:
    body = _res(t, "Dashboard")["DashboardBody"]["Fn::Sub"]
    body[0] = body[0].replace('"widgets": [', '"widgets": [,', 1)


def _alarm_off_the_dashboard(t: Template) -> None:
    body = _res(t, "Dashboard")["DashboardBody"]["Fn::Sub"]
    body[0] = body[0].replace('"${TableSystemErrorsAlarm.Arn}"', '"x"')


def _no_playground_output(t: Template) -> None:
    del t["Outputs"]["PlaygroundUrl"]


def _production_without_pager(t: Template) -> None:
    del t["Rules"]["ProductionPagesSomeone"]


def _pager_required_everywhere(t: Template) -> None:
    del t["Rules"]["ProductionPagesSomeone"]["RuleCondition"]


def _rollback_on_lambda_errors_only(t: Template) -> None:
    _res(t, "ApiFunction")["DeploymentPreference"]["Alarms"] = [{"Ref": "FunctionErrorsAlarm"}]


def _no_breaker_alarm(t: Template) -> None:
    del resources(t)["BreakerOpenAlarm"]


def _metric_renamed(t: Template) -> None:
    _res(t, "AppInternalErrorsAlarm")["MetricName"] = "InternalError"


def _by_operation_dimension(t: Template) -> None:
    _res(t, "AppUnavailableAlarm")["Dimensions"].append({"Name": "operation", "Value": "x"})


def _no_4xx_alarm(t: Template) -> None:
    del resources(t)["Api4xxRateAlarm"]


def _no_429_filter(t: Template) -> None:
    del resources(t)["Api429MetricFilter"]


def _no_dropped_events_alarm(t: Template) -> None:
    del resources(t)["AsyncEventsDroppedAlarm"]


def _no_account_headroom(t: Template) -> None:
    metrics = _res(t, "ConcurrencyHeadroomAlarm")["Metrics"]
    _res(t, "ConcurrencyHeadroomAlarm")["Metrics"] = metrics["Fn::If"][1]


def _one_error_pages_twice(t: Template) -> None:
    original = resources(t)["FunctionErrorsAlarm"]
    twin = dict(original, Properties=dict(props(original)))
    twin["Properties"]["Dimensions"] = [
        *twin["Properties"]["Dimensions"],
        {"Name": "Resource", "Value": {"Fn::Sub": "${ApiFunction}:live"}},
    ]
    resources(t)["AliasErrorsAlarm"] = twin


def _no_upload_dlq(t: Template) -> None:
    del _res(t, "ApiFunction")["EventInvokeConfig"]["DestinationConfig"]


def _endless_retries(t: Template) -> None:
    del _res(t, "ApiFunction")["EventInvokeConfig"]["MaximumRetryAttempts"]


def _role_cannot_park(t: Template) -> None:
    policies = _res(t, "ApiFunctionRole")["Policies"]
    policies[:] = [p for p in policies if p["PolicyName"] != "upload-events-dlq"]


def _no_upload_dlq_alarm(t: Template) -> None:
    del resources(t)["UploadEventsDlqAlarm"]


def _drill_target_without_dlq(t: Template) -> None:
    del _res(t, "DrillScheduleRule")["Targets"][0]["DeadLetterConfig"]


def _drill_dlq_closed_to_events(t: Template) -> None:
    del resources(t)["DrillScheduleDlqPolicy"]


def _stopped_drills_silent(t: Template) -> None:
    _res(t, "DrillMissingAlarm")["TreatMissingData"] = "notBreaching"


def _vault_silent(t: Template) -> None:
    del _res(t, "BackupVault")["Notifications"]


def _backup_successes_page(t: Template) -> None:
    _res(t, "BackupVault")["Notifications"]["BackupVaultEvents"].append("BACKUP_JOB_COMPLETED")


def _failed_backup_jobs_silent(t: Template) -> None:
    del resources(t)["BackupJobFailedRule"]


def _no_pre_traffic_hook(t: Template) -> None:
    del _res(t, "ApiFunction")["DeploymentPreference"]["Hooks"]


def _hook_tests_the_old_version(t: Template) -> None:
    variables = _res(t, "PreTrafficHookFunction")["Environment"]["Variables"]
    variables["PRE_TRAFFIC_TARGET"] = {"Ref": "ApiFunction.Alias"}


def _hook_invokes_anything(t: Template) -> None:
    policy = _res(t, "PreTrafficHookRole")["Policies"][1]
    policy["PolicyDocument"]["Statement"][0]["Resource"] = {"Fn::GetAtt": ["ApiFunction", "Arn"]}


def _hook_name_codedeploy_cannot_invoke(t: Template) -> None:
    _res(t, "PreTrafficHookFunction")["FunctionName"] = {"Fn::Sub": "${AWS::StackName}-hook"}


def _staging_without_test_user(t: Template) -> None:
    condition = t["Rules"]["DeployedStagesSmokeTest"]["RuleCondition"]
    t["Rules"]["DeployedStagesSmokeTest"]["RuleCondition"] = condition["Fn::Or"][0]


def _replication_always_off(t: Template) -> None:
    del _res(t, "FilesBucket")["ReplicationConfiguration"]


def _replication_without_rtc(t: Template) -> None:
    rule = _res(t, "FilesBucket")["ReplicationConfiguration"]["Fn::If"][1]["Rules"][0]
    del rule["Destination"]["ReplicationTime"]


def _replica_deletes_too(t: Template) -> None:
    statements = _res(t, "FilesReplicationRole")["Policies"][0]["PolicyDocument"]["Statement"]
    statements[2]["Action"].append("s3:ReplicateDelete")


def _replication_unwatched(t: Template) -> None:
    del resources(t)["FilesReplicationAlarm"]


def _logs_shipped_by_default(t: Template) -> None:
    t["Parameters"]["LogsFirehoseArn"]["Default"] = (
        "arn:aws:firehose:eu-west-1:123456789012:deliverystream/elk"
    )


def _access_logs_not_shipped(t: Template) -> None:
    del resources(t)["AccessLogsSubscription"]


def _shipping_role_reaches_every_stream(t: Template) -> None:
    statement = _res(t, "LogsToFirehoseRole")["Policies"][0]["PolicyDocument"]["Statement"][0]
    statement["Action"] = ["firehose:*"]


def _filter_always_on(t: Template) -> None:
    del resources(t)["FunctionLogsSubscription"]["Condition"]


def _stream_fails_whole_batches(t: Template) -> None:
    del _res(t, "RealtimeStreamFunction")["Events"]["ItemsStream"]["Properties"][
        "FunctionResponseTypes"
    ]


def _stream_dlq_unwatched(t: Template) -> None:
    del resources(t)["RealtimeStreamDlqAlarm"]


def _no_default_route(t: Template) -> None:
    del resources(t)["RealtimeDefaultRoute"]


def _subscribers_by_scan(t: Template) -> None:
    del _res(t, "RealtimeTable")["GlobalSecondaryIndexes"]


def _connections_never_expire(t: Template) -> None:
    del _res(t, "RealtimeTable")["TimeToLiveSpecification"]


def _no_management_endpoint(t: Template) -> None:
    variables = _res(t, "RealtimeSocketFunction")["Environment"]["Variables"] = dict(
        _res(t, "RealtimeSocketFunction")["Environment"]["Variables"]
    )
    del variables["DEMOBACKEND_REALTIME_ENDPOINT_URL"]


REGRESSIONS: list[tuple[Mutation, str]] = [
    (_set_bpa, "bucket_security"),
    (_allow_acls, "bucket_security"),
    (_no_versioning, "bucket_security"),
    (_no_bucket_encryption, "bucket_security"),
    (_bucket_deletable, "bucket_security"),
    (_drop_tls_statement, "bucket_tls_only"),
    (_tls_deny_on_objects_only, "bucket_tls_only"),
    (_no_abort_multipart, "bucket_lifecycle"),
    (_no_transition, "bucket_lifecycle"),
    (_literal_cors, "cors_from_parameter"),
    (_no_pitr, "table"),
    (_no_deletion_protection, "table"),
    (_table_replaceable, "table"),
    (_ttl_renamed, "table_matches_resources_json"),
    (_gsi_rekeyed, "table_matches_resources_json"),
    (_index_dropped, "table_matches_resources_json"),
    (_lifecycle_drift, "bucket_matches_resources_json"),
    (_weak_passwords, "user_pool_matches_resources_json"),
    (_graphql_post_public, "routes"),
    (_rest_delete_public, "routes"),
    (_healthz_behind_authorizer, "routes"),
    (_playground_behind_authorizer, "routes"),
    (_new_public_route, "routes"),
    (_any_rest_route, "routes"),
    (_no_default_authorizer, "routes"),
    (_literal_throttling, "api_stage"),
    (_s3_star_action, "no_wildcards"),
    (_star_resource, "no_wildcards"),
    (_all_indexes, "no_wildcards"),
    (_whole_bucket_objects, "no_wildcards"),
    (_admin_managed_policy, "no_wildcards"),
    (_all_indexes, "function_permissions"),
    (_whole_bucket_objects, "function_permissions"),
    (_sam_role, "function_permissions"),
    (_old_runtime, "function"),
    (_x86, "function"),
    (_long_timeout, "function"),
    (_no_snapstart, "function"),
    (_no_rollback_alarms, "function"),
    (_python_builder, "function"),
    (_env_typo, "function_environment"),
    (_plaintext_secret, "function_environment"),
    (_bucket_by_ref, "function_environment"),
    (_upload_event_prefix, "upload_event"),
    (_daily_backups_only, "backups"),
    (_every_two_hours, "backups"),
    (_table_not_backed_up, "backups"),
    (_silent_alarm, "alarms"),
    (_no_p99_alarm, "alarms"),
    (_no_dynamodb_system_errors_alarm, "alarms"),
    (_log_group_arn, "no_wildcards"),
    (_dashboard_not_json, "alarms"),
    (_alarm_off_the_dashboard, "alarms"),
    (_no_playground_output, "outputs"),
    (_production_without_pager, "production_pages"),
    (_pager_required_everywhere, "production_pages"),
    (_rollback_on_lambda_errors_only, "app_alarms"),
    (_no_breaker_alarm, "app_alarms"),
    (_metric_renamed, "app_alarms"),
    (_by_operation_dimension, "app_alarms"),
    (_no_4xx_alarm, "app_alarms"),
    (_no_429_filter, "app_alarms"),
    (_no_dropped_events_alarm, "app_alarms"),
    (_no_account_headroom, "app_alarms"),
    (_one_error_pages_twice, "app_alarms"),
    (_no_upload_dlq, "failures_not_silent"),
    (_endless_retries, "failures_not_silent"),
    (_role_cannot_park, "failures_not_silent"),
    (_no_upload_dlq_alarm, "failures_not_silent"),
    (_drill_target_without_dlq, "failures_not_silent"),
    (_drill_dlq_closed_to_events, "failures_not_silent"),
    (_stopped_drills_silent, "failures_not_silent"),
    (_vault_silent, "failures_not_silent"),
    (_backup_successes_page, "failures_not_silent"),
    (_failed_backup_jobs_silent, "failures_not_silent"),
    (_no_pre_traffic_hook, "safe_rollouts"),
    (_hook_tests_the_old_version, "safe_rollouts"),
    (_hook_invokes_anything, "safe_rollouts"),
    (_hook_name_codedeploy_cannot_invoke, "safe_rollouts"),
    (_staging_without_test_user, "safe_rollouts"),
    (_replication_always_off, "files_survive_a_region"),
    (_replication_without_rtc, "files_survive_a_region"),
    (_replica_deletes_too, "files_survive_a_region"),
    (_replication_unwatched, "files_survive_a_region"),
    (_logs_shipped_by_default, "logs_to_search_stack"),
    (_access_logs_not_shipped, "logs_to_search_stack"),
    (_shipping_role_reaches_every_stream, "logs_to_search_stack"),
    (_filter_always_on, "logs_to_search_stack"),
    (_stream_fails_whole_batches, "realtime"),
    (_stream_dlq_unwatched, "realtime"),
    (_no_default_route, "realtime"),
    (_subscribers_by_scan, "realtime"),
    (_connections_never_expire, "realtime"),
    (_no_management_endpoint, "realtime"),
]


@pytest.mark.parametrize(
    ("mutate", "check"),
    REGRESSIONS,
    ids=[f"{check}-{mutate.__name__.lstrip('_')}" for mutate, check in REGRESSIONS],
)
def test_a_regression_is_caught(mutate: Mutation, check: str) -> None:
    template = load_template()
    assert CHECKS[check](template) == []
    mutate(template)
    assert CHECKS[check](template) != []


def test_every_check_has_a_regression() -> None:
    assert {check for _, check in REGRESSIONS} == set(CHECKS)
