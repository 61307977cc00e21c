"""Settings: the only module that reads the environment (prefix ``DEMOBACKEND_``).

Everything else receives explicit values from the composition root. A bad value stops
start-up with one line naming the variable (SettingsError), never a traceback.

Read and checked here by hand, with pydantic's rules and wording (tests/unit/
test_settings_parity.py holds them to a pydantic model of the same fields): importing
pydantic and pydantic-settings and building the model was ~65 ms of CPU on every Lambda
cold start (bench/cold_import.py), for what the few rules below do.
"""

import os
import re
import types
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from api.setting_errors import SettingsError

ENV_PREFIX = "DEMOBACKEND_"
MIB = 1024 * 1024
# infra/resources.json: the bucket expires objects tagged upload=pending after 2 days.
S3_UNCONFIRMED_TTL_SECONDS = 2 * 86_400 - 3_600

__all__ = ["Rule", "Secret", "Settings", "SettingsError", "load_settings", "rule_of"]


class Secret:
    """A value never shown by ``repr`` or ``str`` (a key in a log line, a traceback)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class Rule:
    """A setting's bounds, as pydantic's ``Field`` took them."""

    ge: int | float | None = None
    gt: int | float | None = None
    le: int | float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None


_NO_RULE = Rule()


def _setting(default: Any, **rule: Any) -> Any:
    return field(default=default, metadata={"rule": Rule(**rule)})


def rule_of(spec: Field[Any]) -> Rule:
    """The bounds of a setting (``dataclasses.fields(Settings)``); most have none."""
    rule: Rule = spec.metadata.get("rule", _NO_RULE)
    return rule


@dataclass(frozen=True, slots=True)
class Settings:
    """Made by ``load_settings``, which checks every value; the constructor checks none."""

    backend: Literal["local", "aws"] = "local"
    data_dir: Path = Path(".demobackend")
    host: str = "127.0.0.1"
    port: int = _setting(8000, ge=1, le=65535)
    # How clients reach this server (local blob URLs are built on it); default from host/port.
    public_url: str | None = _setting(None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # AWS backend
    table_name: str = _setting("demobackend", min_length=3, max_length=255)
    bucket: str | None = None
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = None
    # Subscriptions on AWS (README "Realtime"): the table of WebSocket connections, and the
    # WebSocket API's management endpoint (https://<api>.execute-api.<region>.amazonaws.com/<stage>).
    realtime_table_name: str | None = _setting(None, min_length=3, max_length=255)
    realtime_endpoint_url: str | None = _setting(None, pattern=r"^https?://[^\s?#]+$")

    # Sign-in
    auth_mode: Literal["local", "cognito"] = "local"
    cognito_user_pool_id: str | None = None
    cognito_client_ids: tuple[str, ...] = ()
    dev_issuer: str = "http://127.0.0.1/auth"
    dev_client_id: str = "demobackend-local"
    token_ttl_seconds: int = _setting(3600, ge=60, le=86_400)
    # Dev IdP refresh tokens: a sign-in's family of rotating tokens lives this long.
    refresh_token_ttl_seconds: int = _setting(30 * 86_400, ge=300, le=3650 * 86_400)

    # Files
    # Up to S3's 5 TiB: sizes over the threshold (at most S3's 5 GiB for one PUT) go in parts.
    max_upload_bytes: int = _setting(100 * MIB, ge=1, le=5 * 1024 * 1024 * MIB)
    multipart_threshold_bytes: int = _setting(64 * MIB, ge=1, le=5 * 1024 * MIB)
    # Parts of a multipart upload (but the last): S3 wants at least 5 MiB.
    multipart_part_bytes: int = _setting(16 * MIB, ge=5 * MIB, le=5 * 1024 * MIB)
    # Multipart uploads larger than this need partChecksums (docs/UPLOAD_INTEGRITY.md).
    multipart_inline_verify_max_bytes: int = _setting(256 * MIB, ge=1)
    storage_quota_bytes: int = _setting(1024 * MIB, ge=1)
    pending_upload_ttl_seconds: int = _setting(24 * 3600, ge=60)
    upload_url_expiry_seconds: int = _setting(900, ge=1, le=3600)
    # Per user: a browser uploading a folder starts many at once. Each is a small item, and
    # reclaiming expired ones reads them in one query (at most 1000 items).
    max_pending_uploads: int = _setting(100, ge=1, le=1000)
    # GET /s/<token> (share links) per client IP: sustained rate and burst, then 429.
    share_link_requests_per_second: float = _setting(1.0, gt=0, le=1000)
    share_link_burst: int = _setting(20, ge=1, le=10_000)
    # exportMyData: an export of more files or bytes than these is built in the background
    # (answered BUILDING; dataExport(id) polls it). EXPORT_RUNNER says by what: "task" in
    # this process, "lambda" an asynchronous invocation of the function itself (AWS only).
    export_inline_max_bytes: int = _setting(8 * MIB, ge=0)
    export_inline_max_files: int = _setting(200, ge=0)
    export_runner: Literal["task", "lambda"] = "task"
    # Signs pagination cursors (hex, >= 32 bytes). Locally a key is kept in DATA_DIR; on
    # AWS every container must share one, so it is required there.
    cursor_secret: Secret | None = None

    # API behaviour
    cors_origins: tuple[str, ...] = ()
    introspection: bool | None = None  # default: on locally, off in AWS
    # Query limits: refused with QUERY_TOO_COMPLEX before any resolver runs.
    max_query_depth: int = _setting(10, ge=1, le=100)
    max_aliases: int = _setting(30, ge=0, le=1000)
    max_query_tokens: int = _setting(2000, ge=10, le=100_000)
    # Fields a query may resolve, multiplied through `first` page sizes (default 20).
    max_query_cost: int = _setting(5000, ge=1, le=10_000_000)
    # Operations per request: 1 means no batching (a JSON array body is refused).
    max_operations: int = _setting(1, ge=1, le=1)
    max_graphql_body_bytes: int = _setting(64 * 1024, ge=1024, le=10 * MIB)

    # Subscriptions over WebSocket (graphql-transport-ws on /graphql; README "Realtime").
    # Over a limit: the protocol's answer (an `error` for that subscription, or a close
    # code), and nothing else changes.
    subscriptions_per_connection: int = _setting(20, ge=1, le=1000)
    subscription_connections_per_user: int = _setting(10, ge=1, le=10_000)
    subscription_max_message_bytes: int = _setting(16 * 1024, ge=512, le=MIB)
    # subscribe + complete messages per connection: sustained rate and burst.
    subscription_messages_per_second: float = _setting(5.0, gt=0, le=1000)
    subscription_message_burst: int = _setting(40, ge=1, le=10_000)
    subscription_keepalive_seconds: float = _setting(15.0, gt=0, le=3600)
    subscription_init_timeout_seconds: float = _setting(10.0, gt=0, le=300)
    # Events queued for one subscription before it is ended as too slow.
    subscription_backlog: int = _setting(1000, ge=1, le=1_000_000)

    # Resilience (docs/RUNBOOK.md). Off: no deadlines, breakers or retry budget at all (a
    # kill switch, and the baseline bench/brownout.py measures their cost against).
    resilience: bool = True
    # Each request gets this long, or on Lambda
    # the invocation's remaining time less LAMBDA_DEADLINE_MARGIN_SECONDS if that is less;
    # a request out of time answers SERVICE_UNAVAILABLE (503 + Retry-After).
    request_timeout_seconds: float = _setting(10.0, gt=0, le=900)
    # How long an AWS call waits for its answer. A lone counter ADD whose answer is lost is
    # not repeated (it may have been applied), so this is also how long one may be late.
    aws_read_timeout_seconds: float = _setting(5.0, gt=0, le=900)
    lambda_deadline_margin_seconds: float = _setting(1.0, ge=0, le=60)
    # A dependency's breaker opens after this many failures in a row and lets one trial
    # call through after BREAKER_RESET_SECONDS.
    breaker_failure_threshold: int = _setting(5, ge=1, le=1000)
    breaker_reset_seconds: float = _setting(5.0, gt=0, le=600)
    # DynamoDB retries may add at most this share of the calls made (plus 1 per second).
    retry_budget_ratio: float = _setting(0.1, ge=0, le=1)

    # Persisted operations (SECURITY.md, api/persisted_operations.py): a JSON file mapping
    # "sha256:<hex>" of each registered document to its text (scripts/persist_operations.py
    # writes it). When set, /graphql runs only those documents; it is read and checked by
    # build_app, so a missing or bad file stops start-up with one line.
    persisted_operations_file: Path | None = None

    # Backups (`demobackend backup/restore/drill`): key for encrypting directory backups.
    backup_encryption_key: Secret | None = None
    # Processes a restore copies the bytes in (local blob store and a directory backup);
    # default: one per CPU; 0: in the restoring process.
    restore_workers: int | None = _setting(None, ge=0, le=64)

    # Observability (README "Operations: monitoring")
    metrics_endpoint: bool | None = None  # GET /metrics (Prometheus); default: local only
    metrics_namespace: str = _setting("DemoBackend", pattern=r"^[A-Za-z0-9_./#:-]{1,255}$")
    tracing: bool = False  # X-Ray through Powertools Tracer; off: the X-Ray SDK is never imported

    # Tests and benches only: added delay before every item store call, to reproduce a slow
    # store (adapters/items/delayed.py). Refused against real AWS (no AWS_ENDPOINT_URL).
    test_item_store_delay_ms: int = _setting(0, ge=0, le=1000)

    @property
    def introspection_enabled(self) -> bool:
        return self.introspection if self.introspection is not None else self.backend == "local"

    @property
    def metrics_endpoint_enabled(self) -> bool:
        if self.metrics_endpoint is not None:
            return self.metrics_endpoint
        return self.backend == "local"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def client_ids(self) -> tuple[str, ...]:
        return self.cognito_client_ids if self.auth_mode == "cognito" else (self.dev_client_id,)


_INT = "Input should be a valid integer, unable to parse string as an integer"
_FLOAT = "Input should be a valid number, unable to parse string as a number"
_BOOL = "Input should be a valid boolean, unable to interpret input"
_STR = "Input should be a valid string"
_TUPLE = "Input should be a valid tuple"
# Digits with single underscores between them, and a fraction of zeros only.
_INT_TEXT = re.compile(r"[+-]?[0-9](?:_?[0-9])*(?:\.0+)?")
# What pydantic trims around a number: Unicode's White_Space, which (unlike str.strip)
# leaves the separators U+001C..U+001F in place.
_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
_HEX_SECRET = re.compile(r"[0-9a-fA-F]{64,}")
_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")


class _Invalid(ValueError):
    """A value refused, with the message the variable's line gives."""


def load_settings(**overrides: object) -> Settings:
    """Read the environment (explicit overrides win) or raise SettingsError in one line."""
    given: dict[str, object] = {**_environment(), **overrides}
    values: dict[str, Any] = {}
    for spec in fields(Settings):
        raw = given.get(spec.name, spec.default)
        try:
            values[spec.name] = _checked(spec.name, spec.type, raw, rule_of(spec))
        except _Invalid as exc:
            raise SettingsError(_line(spec.name, str(exc))) from None
    settings = Settings(**values)
    problem = _cross_field_problem(settings)
    if problem is not None:
        name, message = problem
        raise SettingsError(_line(name, message))
    return settings


def _environment() -> dict[str, str]:
    """``DEMOBACKEND_<FIELD>`` of every field that is set, names matched in any case (as
    pydantic-settings matched them). Values stay strings until checked; the lists are
    comma-separated, never JSON."""
    found = {name.lower(): value for name, value in os.environ.items()}
    prefix = ENV_PREFIX.lower()
    names = (spec.name for spec in fields(Settings))
    return {name: found[prefix + name] for name in names if prefix + name in found}


def _line(name: str, message: str) -> str:
    return f"invalid setting {ENV_PREFIX}{name.upper()}: {message}"


def _checked(name: str, kind: Any, raw: object, rule: Rule) -> Any:
    if name in ("cognito_client_ids", "cors_origins") and isinstance(raw, str):
        raw = tuple(part.strip() for part in raw.split(",") if part.strip())
    value = _converted(kind, raw)
    if value is None:
        return None
    _check_rule(value, rule)
    if name == "cursor_secret" and not _HEX_SECRET.fullmatch(value.get_secret_value()):
        raise _Invalid("Value error, must be at least 64 hex characters")
    if name == "backup_encryption_key" and not _HEX_KEY.fullmatch(value.get_secret_value()):
        # AES-256: exactly 32 bytes, written as hex (e.g. `openssl rand -hex 32`).
        raise _Invalid("Value error, must be exactly 64 hex characters (32 bytes)")
    return value


def _converted(kind: Any, raw: object) -> Any:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        if raw is None:
            return None
        (kind,) = (arg for arg in get_args(kind) if arg is not type(None))
        origin = get_origin(kind)
    if origin is Literal:
        choices = get_args(kind)
        if raw in choices:
            return raw
        quoted = [repr(choice) for choice in choices]
        raise _Invalid(f"Input should be {', '.join(quoted[:-1])} or {quoted[-1]}")
    if origin is tuple:
        if isinstance(raw, tuple | list) and all(isinstance(part, str) for part in raw):
            return tuple(raw)
        raise _Invalid(_TUPLE)
    if kind is bool:
        return _bool(raw)
    if kind is int:
        return _int(raw)
    if kind is float:
        return _float(raw)
    if kind is str:
        if isinstance(raw, str):
            return raw
        raise _Invalid(_STR)
    if kind is Path:
        if isinstance(raw, str | Path):
            return Path(raw)
        raise _Invalid("Input is not a valid path")
    if kind is Secret:
        if isinstance(raw, Secret):
            return raw
        if isinstance(raw, str):
            return Secret(raw)
        raise _Invalid(_STR)
    raise TypeError(f"no reader for settings of type {kind!r}")  # a new kind of setting


def _bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in _TRUE | _FALSE:
        return raw.lower() in _TRUE
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    raise _Invalid(_BOOL)


def _int(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        text = raw.strip(_SPACE)
        if _INT_TEXT.fullmatch(text):
            return int(text.partition(".")[0])
    raise _Invalid(_INT)


def _float(raw: object) -> float:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, str):
        text = raw.strip(_SPACE)
        if "_" in raw:
            # pydantic drops single underscores anywhere inside, then reads it untrimmed.
            if raw.startswith("_") or raw.endswith("_") or "__" in raw:
                raise _Invalid(_FLOAT)
            text = raw.replace("_", "")
        # float() alone would trim more, and take any script's digits.
        if text.isascii() and text == text.strip():
            try:
                return float(text)
            except ValueError:
                pass
    raise _Invalid(_FLOAT)


def _check_rule(value: Any, rule: Rule) -> None:
    # pydantic's order: the upper bound first (so NaN fails there), then the lower.
    if rule.le is not None and not value <= rule.le:
        raise _Invalid(f"Input should be less than or equal to {rule.le}")
    if rule.ge is not None and not value >= rule.ge:
        raise _Invalid(f"Input should be greater than or equal to {rule.ge}")
    if rule.gt is not None and not value > rule.gt:
        raise _Invalid(f"Input should be greater than {rule.gt}")
    if rule.min_length is not None and len(value) < rule.min_length:
        unit = "character" if rule.min_length == 1 else "characters"
        raise _Invalid(f"String should have at least {rule.min_length} {unit}")
    if rule.max_length is not None and len(value) > rule.max_length:
        unit = "character" if rule.max_length == 1 else "characters"
        raise _Invalid(f"String should have at most {rule.max_length} {unit}")
    if rule.pattern is not None and not re.fullmatch(rule.pattern, value):
        # fullmatch: the patterns are anchored, and a "$" must not pass a final newline.
        raise _Invalid(f"String should match pattern '{rule.pattern}'")


def _cross_field_problem(s: Settings) -> tuple[str, str] | None:
    """The first rule between settings that is broken: (the setting, why)."""
    if s.auth_mode == "cognito":
        if not s.cognito_user_pool_id:
            return "cognito_user_pool_id", "required when AUTH_MODE=cognito"
        if not s.cognito_client_ids:
            return "cognito_client_ids", "required when AUTH_MODE=cognito"
    if s.backend == "aws" and not s.bucket:
        return "bucket", "required when BACKEND=aws"
    if s.backend == "aws" and s.cursor_secret is None:
        return "cursor_secret", "required when BACKEND=aws (64+ hex characters)"
    if s.backend == "aws" and s.pending_upload_ttl_seconds > S3_UNCONFIRMED_TTL_SECONDS:
        # The bucket's lifecycle deletes unconfirmed uploads after 2 days; a longer
        # pending window would let it delete bytes a client may still complete.
        return (
            "pending_upload_ttl_seconds",
            f"must be at most {S3_UNCONFIRMED_TTL_SECONDS} with BACKEND=aws",
        )
    if s.export_runner == "lambda" and s.backend != "aws":
        return "export_runner", "lambda requires BACKEND=aws"
    if s.test_item_store_delay_ms and s.backend == "aws" and not s.aws_endpoint_url:
        return "test_item_store_delay_ms", "only for local or emulated stores"
    if s.upload_url_expiry_seconds > s.pending_upload_ttl_seconds:
        return "upload_url_expiry_seconds", "must not exceed PENDING_UPLOAD_TTL_SECONDS"
    return None
