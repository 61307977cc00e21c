"""The properties infra/template.yaml must keep, as functions of the parsed template.

Each check returns the problems it finds (empty: fine). test_template.py asserts every
check passes on the real template; test_template_regressions.py breaks a copy of the
template one way at a time and asserts the matching check notices, so no check can pass
vacuously. The checks live by concern in checks_data, checks_access and checks_function.
"""

from tests.infra.checks_access import (
    check_api_stage,
    check_function_permissions,
    check_no_wildcards,
    check_routes,
    http_api_routes,
)
from tests.infra.checks_common import Check
from tests.infra.checks_data import (
    check_backups,
    check_bucket_lifecycle,
    check_bucket_matches_resources_json,
    check_bucket_security,
    check_bucket_tls_only,
    check_cors_from_parameter,
    check_table,
    check_table_matches_resources_json,
    check_user_pool_matches_resources_json,
)
from tests.infra.checks_function import (
    check_alarms,
    check_function,
    check_function_environment,
    check_outputs,
    check_upload_event,
)
from tests.infra.checks_ops import (
    check_app_alarms,
    check_failures_not_silent,
    check_files_survive_a_region,
    check_logs_to_search_stack,
    check_production_pages,
    check_safe_rollouts,
)
from tests.infra.checks_realtime import check_realtime

__all__ = ["CHECKS", "Check", "http_api_routes"]

CHECKS: dict[str, Check] = {
    check.__name__.removeprefix("check_"): check
    for check in (
        check_bucket_security,
        check_bucket_tls_only,
        check_bucket_lifecycle,
        check_cors_from_parameter,
        check_table,
        check_table_matches_resources_json,
        check_bucket_matches_resources_json,
        check_user_pool_matches_resources_json,
        check_routes,
        check_api_stage,
        check_no_wildcards,
        check_function_permissions,
        check_function,
        check_function_environment,
        check_upload_event,
        check_backups,
        check_alarms,
        check_outputs,
        check_production_pages,
        check_app_alarms,
        check_failures_not_silent,
        check_safe_rollouts,
        check_files_survive_a_region,
        check_logs_to_search_stack,
        check_realtime,
    )
}
