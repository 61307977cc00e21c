"""The settings as the pydantic model they were, kept as the reference api/settings.py's
hand-written reader is held to (tests/unit/test_settings_parity.py): same fields, same
bounds, and for any value the same result or the same one-line message."""

import re
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from api.settings import ENV_PREFIX, MIB, S3_UNCONFIRMED_TTL_SECONDS


class ReferenceSettings(BaseModel):
    # pydantic-settings' defaults that mattered: defaults validated, unknown names ignored.
    model_config = ConfigDict(extra="ignore", frozen=True, validate_default=True)

    backend: Literal["local", "aws"] = "local"
    data_dir: Path = Path(".demobackend")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # How clients reach this server (local blob URLs are built on it); default from host/port.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # AWS backend
    table_name: str = Field(default="demobackend", min_length=3, max_length=255)
    bucket: str | None = None
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = None
    # Subscriptions on AWS (README "Realtime"): the table of WebSocket connections, and the
    # WebSocket API's management endpoint (https://<api>.execute-api.<region>.amazonaws.com/<stage>).
    realtime_table_name: str | None = Field(default=None, min_length=3, max_length=255)
    realtime_endpoint_url: str | None = Field(default=None, pattern=r"^https?://[^\s?#]+$")

    # Sign-in
    auth_mode: Literal["local", "cognito"] = "local"
    cognito_user_pool_id: str | None = None
    cognito_client_ids: tuple[str, ...] = ()
    dev_issuer: str = "http://127.0.0.1/auth"
    dev_client_id: str = "demobackend-local"
    token_ttl_seconds: int = Field(default=3600, ge=60, le=86_400)
    # Dev IdP refresh tokens: a sign-in's family of rotating tokens lives this long.
    refresh_token_ttl_seconds: int = Field(default=30 * 86_400, ge=300, le=3650 * 86_400)

    # Files
    # Up to S3's 5 TiB: sizes over the threshold (at most S3's 5 GiB for one PUT) go in parts.
    max_upload_bytes: int = Field(default=100 * MIB, ge=1, le=5 * 1024 * 1024 * MIB)
    multipart_threshold_bytes: int = Field(default=64 * MIB, ge=1, le=5 * 1024 * MIB)
    # Parts of a multipart upload (but the last): S3 wants at least 5 MiB.
    multipart_part_bytes: int = Field(default=16 * MIB, ge=5 * MIB, le=5 * 1024 * MIB)
    # Multipart uploads larger than this need partChecksums (docs/UPLOAD_INTEGRITY.md).
    multipart_inline_verify_max_bytes: int = Field(default=256 * MIB, ge=1)
    storage_quota_bytes: int = Field(default=1024 * MIB, ge=1)
    pending_upload_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    upload_url_expiry_seconds: int = Field(default=900, ge=1, le=3600)
    # Per user: a browser uploading a folder starts many at once. Each is a small item, and
    # reclaiming expired ones reads them in one query (at most 1000 items).
    max_pending_uploads: int = Field(default=100, ge=1, le=1000)
    # GET /s/<token> (share links) per client IP: sustained rate and burst, then 429.
    share_link_requests_per_second: float = Field(default=1.0, gt=0, le=1000)
    share_link_burst: int = Field(default=20, ge=1, le=10_000)
    # exportMyData: an export of more files or bytes than these is built in the background
    # (answered BUILDING; dataExport(id) polls it). EXPORT_RUNNER says by what: "task" in
    # this process, "lambda" an asynchronous invocation of the function itself (AWS only).
    export_inline_max_bytes: int = Field(default=8 * MIB, ge=0)
    export_inline_max_files: int = Field(default=200, ge=0)
    export_runner: Literal["task", "lambda"] = "task"
    # Signs pagination cursors (hex, >= 32 bytes). Locally a key is kept in DATA_DIR; on
    # AWS every container must share one, so it is required there.
    cursor_secret: SecretStr | None = None

    # API behaviour
    cors_origins: tuple[str, ...] = ()
    introspection: bool | None = None  # default: on locally, off in AWS
    # Query limits: refused with QUERY_TOO_COMPLEX before any resolver runs.
    max_query_depth: int = Field(default=10, ge=1, le=100)
    max_aliases: int = Field(default=30, ge=0, le=1000)
    max_query_tokens: int = Field(default=2000, ge=10, le=100_000)
    # Fields a query may resolve, multiplied through `first` page sizes (default 20).
    max_query_cost: int = Field(default=5000, ge=1, le=10_000_000)
    # Operations per request: 1 means no batching (a JSON array body is refused).
    max_operations: int = Field(default=1, ge=1, le=1)
    max_graphql_body_bytes: int = Field(default=64 * 1024, ge=1024, le=10 * MIB)

    # Subscriptions over WebSocket (graphql-transport-ws on /graphql; README "Realtime").
    # Over a limit: the protocol's answer (an `error` for that subscription, or a close
    # code), and nothing else changes.
    subscriptions_per_connection: int = Field(default=20, ge=1, le=1000)
    subscription_connections_per_user: int = Field(default=10, ge=1, le=10_000)
    subscription_max_message_bytes: int = Field(default=16 * 1024, ge=512, le=MIB)
    # subscribe + complete messages per connection: sustained rate and burst.
    subscription_messages_per_second: float = Field(default=5.0, gt=0, le=1000)
    subscription_message_burst: int = Field(default=40, ge=1, le=10_000)
    subscription_keepalive_seconds: float = Field(default=15.0, gt=0, le=3600)
    subscription_init_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # Events queued for one subscription before it is ended as too slow.
    subscription_backlog: int = Field(default=1000, ge=1, le=1_000_000)

    # Resilience (docs/RUNBOOK.md). Off: no deadlines, breakers or retry budget at all (a
    # kill switch, and the baseline bench/brownout.py measures their cost against).
    resilience: bool = True
    # Each request gets this long, or on Lambda
    # the invocation's remaining time less LAMBDA_DEADLINE_MARGIN_SECONDS if that is less;
    # a request out of time answers SERVICE_UNAVAILABLE (503 + Retry-After).
    request_timeout_seconds: float = Field(default=10.0, gt=0, le=900)
    # How long an AWS call waits for its answer. A lone counter ADD whose answer is lost is
    # not repeated (it may have been applied), so this is also how long one may be late.
    aws_read_timeout_seconds: float = Field(default=5.0, gt=0, le=900)
    lambda_deadline_margin_seconds: float = Field(default=1.0, ge=0, le=60)
    # A dependency's breaker opens after this many failures in a row and lets one trial
    # call through after BREAKER_RESET_SECONDS.
    breaker_failure_threshold: int = Field(default=5, ge=1, le=1000)
    breaker_reset_seconds: float = Field(default=5.0, gt=0, le=600)
    # DynamoDB retries may add at most this share of the calls made (plus 1 per second).
    retry_budget_ratio: float = Field(default=0.1, ge=0, le=1)

    # Persisted operations (SECURITY.md, api/persisted_operations.py): a JSON file mapping
    # "sha256:<hex>" of each registered document to its text (scripts/persist_operations.py
    # writes it). When set, /graphql runs only those documents; it is read and checked by
    # build_app, so a missing or bad file stops start-up with one line.
    persisted_operations_file: Path | None = None

    # Backups (`demobackend backup/restore/drill`): key for encrypting directory backups.
    backup_encryption_key: SecretStr | None = None
    # Processes a restore copies the bytes in (local blob store and a directory backup);
    # default: one per CPU; 0: in the restoring process.
    restore_workers: int | None = Field(default=None, ge=0, le=64)

    # Observability (README "Operations: monitoring")
    metrics_endpoint: bool | None = None  # GET /metrics (Prometheus); default: local only
    metrics_namespace: str = Field(default="DemoBackend", pattern=r"^[A-Za-z0-9_./#:-]{1,255}$")
    tracing: bool = False  # X-Ray through Powertools Tracer; off: the X-Ray SDK is never imported

    @field_validator("cognito_client_ids", "cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("cursor_secret")
    @classmethod
    def _hex_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[0-9a-fA-F]{64,}", value.get_secret_value()):
            raise ValueError("must be at least 64 hex characters")
        return value

    @field_validator("backup_encryption_key")
    @classmethod
    def _backup_key(cls, value: SecretStr | None) -> SecretStr | None:
        # AES-256: exactly 32 bytes, written as hex (e.g. `openssl rand -hex 32`).
        if value is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", value.get_secret_value()):
            raise ValueError("must be exactly 64 hex characters (32 bytes)")
        return value

    # Tests and benches only: added delay before every item store call, to reproduce a slow
    # store (adapters/items/delayed.py). Refused against real AWS (no AWS_ENDPOINT_URL).
    test_item_store_delay_ms: int = Field(default=0, ge=0, le=1000)

    @model_validator(mode="after")
    def _check_auth(self) -> "ReferenceSettings":
        if self.auth_mode == "cognito":
            if not self.cognito_user_pool_id:
                raise ValueError("cognito_user_pool_id: required when AUTH_MODE=cognito")
            if not self.cognito_client_ids:
                raise ValueError("cognito_client_ids: required when AUTH_MODE=cognito")
        if self.backend == "aws" and not self.bucket:
            raise ValueError("bucket: required when BACKEND=aws")
        if self.backend == "aws" and self.cursor_secret is None:
            raise ValueError("cursor_secret: required when BACKEND=aws (64+ hex characters)")
        if self.backend == "aws" and self.pending_upload_ttl_seconds > S3_UNCONFIRMED_TTL_SECONDS:
            # The bucket's lifecycle deletes unconfirmed uploads after 2 days; a longer
            # pending window would let it delete bytes a client may still complete.
            raise ValueError(
                "pending_upload_ttl_seconds: must be at most "
                f"{S3_UNCONFIRMED_TTL_SECONDS} with BACKEND=aws"
            )
        if self.export_runner == "lambda" and self.backend != "aws":
            raise ValueError("export_runner: lambda requires BACKEND=aws")
        if self.test_item_store_delay_ms and self.backend == "aws" and not self.aws_endpoint_url:
            raise ValueError("test_item_store_delay_ms: only for local or emulated stores")
        if self.upload_url_expiry_seconds > self.pending_upload_ttl_seconds:
            raise ValueError(
                "upload_url_expiry_seconds: must not exceed PENDING_UPLOAD_TTL_SECONDS"
            )
        return self


def reference_outcome(values: dict[str, object]) -> ReferenceSettings | str:
    """The validated model, or the one line the old ``load_settings`` raised."""
    try:
        return ReferenceSettings(**values)
    except ValidationError as exc:
        return _one_line(exc)


def _one_line(exc: ValidationError) -> str:
    first = exc.errors()[0]
    if first["loc"]:
        name = str(first["loc"][0])
        message = first["msg"]
    else:  # a cross-field rule: its message starts with the field it is about
        name, _, message = first["msg"].removeprefix("Value error, ").partition(": ")
    return f"invalid setting {ENV_PREFIX}{name.upper()}: {message}"
