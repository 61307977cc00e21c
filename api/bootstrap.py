"""The composition root: the one place that picks and builds adapters from settings.

Built once per process (per Lambda container); everything below receives what it needs.

Adapters are imported inside the builders, for the backend the settings choose: Lambda
never imports SQLite or the dev identity provider, a laptop never imports boto3.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from api.setting_errors import SettingsError
from domain.accounts import AccountDeletion, AccountService, DataExports, ExportLimits
from domain.clock import utc_now
from domain.cursor_signer import CursorSigner
from domain.errors import StoreUnavailableError
from domain.files import FileLimits, FileService, new_file_id
from domain.ports import BlobStore, ExportScheduler, IdentityAccounts, ItemStore, TokenVerifier
from domain.search.service import SearchService
from domain.users import UserProfiles, UserRepository
from resolvers.services import Services

if TYPE_CHECKING:
    from adapters.blobs.local.store import LocalBlobStore
    from adapters.exports.lambda_scheduler import LambdaExportScheduler
    from adapters.exports.task_scheduler import TaskExportScheduler
    from adapters.identity.dev_idp import DevIdentityProvider
    from adapters.resilience.breaker import CircuitBreaker
    from adapters.resilience.budget import RetryBudget
    from api.realtime_aws.runtime import Realtime
    from api.settings import Settings
    from ops.backup.blob_copy import WorkerRecipes

JWKS_FETCH_TIMEOUT_SECONDS = 3.0
ITEMS_FILE = "items.sqlite3"
DEV_IDP_KEY_FILE = "dev-idp-key.pem"
BLOBS_DIR = "blobs"
BLOB_SIGNING_KEY_FILE = "blob-signing.key"
CURSOR_KEY_FILE = "cursor-signing.key"

Closers = list[Callable[[], Awaitable[None] | None]]


@dataclass
class Deps:
    """Everything the composition root built for one process, handed to the app's routes
    and the GraphQL context, and closed with it (``closers``)."""

    settings: Settings
    items: ItemStore
    blobs: BlobStore
    verifier: TokenVerifier
    services: Services
    dev_idp: DevIdentityProvider | None
    # Set in local mode: the app serves its signed upload/download URLs under /blobs.
    local_blobs: LocalBlobStore | None
    closers: Closers = field(default_factory=list)
    # One per dependency, by name ("items", "blobs", "jwks"): /readyz, metrics, bench.
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    # Where large data exports are built (settings.export_runner); None without accounts.
    export_scheduler: TaskExportScheduler | LambdaExportScheduler | None = None
    # The configured identity provider's admin side (the dev IdP, or Cognito's admin API):
    # a restore that maps owners by username looks users up in it.
    identity: IdentityAccounts | None = None

    async def aclose(self) -> None:
        for close in reversed(self.closers):
            outcome = close()
            if outcome is not None:
                await outcome


def build_deps(settings: Settings) -> Deps:
    from adapters.resilience.budget import RetryBudget
    from adapters.resilience.guarded import GuardedBlobStore, GuardedItemStore
    from api.observability.counting import CountingBlobStore, CountingItemStore

    closers: Closers = []
    breakers = {
        name: _breaker(settings, name, label)
        for name, label in (
            ("items", "item store"),
            ("blobs", "blob store"),
            ("jwks", "identity provider"),
        )
    }
    budget = RetryBudget(ratio=settings.retry_budget_ratio) if settings.resilience else None
    # Innermost the adapter, then its deadline + breaker, then per-request counting (logs
    # and metrics); the adapters are unaware of both.
    items: ItemStore = _build_items(settings, closers, budget)
    raw_blobs, local_blobs = _build_blobs(settings)
    blobs: BlobStore = raw_blobs
    if settings.resilience:
        items = GuardedItemStore(items, breakers["items"])
        blobs = GuardedBlobStore(blobs, breakers["blobs"])
    else:
        breakers = {}
    items = CountingItemStore(items)
    blobs = CountingBlobStore(blobs)
    dev_idp = _build_dev_idp(settings, items)
    verifier = _build_verifier(settings, dev_idp, breakers.get("jwks"))
    identity: IdentityAccounts = dev_idp if dev_idp is not None else _cognito_accounts(settings)
    scheduler = _build_export_scheduler(settings, closers)
    services = build_services(
        settings, items, blobs, _cursor_key(settings), identity, export_scheduler=scheduler
    )
    from adapters.exports.task_scheduler import TaskExportScheduler

    if services.accounts is not None and isinstance(scheduler, TaskExportScheduler):
        scheduler.bind(services.accounts.exports.build)
    return Deps(
        settings,
        items,
        blobs,
        verifier,
        services,
        dev_idp,
        local_blobs,
        closers,
        breakers,
        export_scheduler=scheduler,
        identity=identity,
    )


def _build_export_scheduler(
    settings: Settings, closers: Closers
) -> TaskExportScheduler | LambdaExportScheduler:
    if settings.export_runner == "lambda":
        from adapters.exports.lambda_scheduler import LambdaExportScheduler
        from api.aws_clients import lambda_client

        return LambdaExportScheduler(lambda_client(settings))
    from adapters.exports.task_scheduler import TaskExportScheduler

    scheduler = TaskExportScheduler()
    closers.append(scheduler.aclose)
    return scheduler


def build_realtime(settings: Settings, deps: Deps | None = None) -> Realtime:
    """The WebSocket and stream functions' runtime (AWS only): the API's deps, the
    connections table as an ItemStore, API Gateway's Management API client."""
    from adapters.items.dynamodb.store import DynamoDbItemStore
    from adapters.items.dynamodb.stream_records import decode_stream_record
    from adapters.realtime.apigw import ApiGatewayConnections
    from api.app import query_limits, subscription_limits
    from api.aws_clients import connections_client, dynamodb_client
    from api.persisted_operations import load_persisted_operations
    from api.realtime_aws.runtime import Realtime
    from domain.realtime import ConnectionRegistry
    from resolvers.schema import build_schema

    if settings.backend != "aws" or not settings.realtime_table_name:
        raise SettingsError("invalid setting DEMOBACKEND_REALTIME_TABLE_NAME: required (AWS)")
    deps = deps or build_deps(settings)
    introspection = settings.introspection_enabled
    connections = DynamoDbItemStore(dynamodb_client(settings), settings.realtime_table_name)
    return Realtime(
        schema=build_schema(introspection=introspection, limits=query_limits(settings)),
        services=deps.services,
        verifier=deps.verifier,
        registry=ConnectionRegistry(connections),
        gateway=ApiGatewayConnections(connections_client(settings)),
        limits=subscription_limits(settings),
        decode_change=decode_stream_record,
        persisted=load_persisted_operations(settings.persisted_operations_file),
        hide_suggestions=not introspection,
    )


def _breaker(settings: Settings, name: str, label: str) -> CircuitBreaker:
    from adapters.resilience.breaker import CircuitBreaker

    return CircuitBreaker(
        name,
        label=label,
        failure_threshold=settings.breaker_failure_threshold,
        reset_seconds=settings.breaker_reset_seconds,
    )


def build_services(
    settings: Settings,
    items: ItemStore,
    blobs: BlobStore,
    cursor_key: bytes,
    identity: IdentityAccounts | None = None,
    export_scheduler: ExportScheduler | None = None,
) -> Services:
    """The domain services over the given stores (tests pass wrapped ones); without an
    identity provider the account mutations are unavailable."""
    from adapters.events.memory import MemoryFileEventBus
    from api.session_gate import SessionGatedItemStore
    from resolvers.session_check import SessionChecks

    # Every service reads and writes through the gate; the check's own read goes around it.
    unchecked, items = items, SessionGatedItemStore(items)

    # In-process: the local server's subscriptions. On Lambda nobody subscribes in the
    # process (API Gateway holds the sockets), so publishing there finds no subscriber.
    events = MemoryFileEventBus(backlog=settings.subscription_backlog)
    users = UserRepository(items)
    cursors = CursorSigner(cursor_key)
    profiles = UserProfiles(users, clock=utc_now)
    files = FileService(
        items=items,
        blobs=blobs,
        clock=utc_now,
        id_factory=new_file_id,
        limits=FileLimits(
            max_upload_bytes=settings.max_upload_bytes,
            quota_bytes=settings.storage_quota_bytes,
            pending_ttl_seconds=settings.pending_upload_ttl_seconds,
            upload_expiry_seconds=settings.upload_url_expiry_seconds,
            max_pending_uploads=settings.max_pending_uploads,
            multipart_threshold_bytes=settings.multipart_threshold_bytes,
            multipart_part_bytes=settings.multipart_part_bytes,
            multipart_inline_verify_max_bytes=settings.multipart_inline_verify_max_bytes,
        ),
        events=events,
    )
    accounts = None
    if identity is not None:
        deletion = AccountDeletion(items, blobs, users, files, identity, clock=utc_now)
        exports = DataExports(
            items,
            blobs,
            users,
            clock=utc_now,
            limits=ExportLimits(
                inline_max_bytes=settings.export_inline_max_bytes,
                inline_max_files=settings.export_inline_max_files,
            ),
            scheduler=export_scheduler,
        )
        accounts = AccountService(profiles, identity, deletion, exports)
    return Services(
        users=users,
        profiles=profiles,
        files=files,
        cursors=cursors,
        search=SearchService(items=items, cursors=cursors, clock=utc_now),
        file_events=events,
        public_url=settings.public_url.rstrip("/") if settings.public_url else None,
        accounts=accounts,
        session_checks=SessionChecks(profiles, read=unchecked.get_many),
    )


def _build_items(settings: Settings, closers: Closers, budget: RetryBudget | None) -> ItemStore:
    store = _build_item_adapter(settings, closers, budget)
    if settings.test_item_store_delay_ms:
        from adapters.items.delayed import DelayedItemStore

        return DelayedItemStore(store, settings.test_item_store_delay_ms / 1000)
    return store


def _build_item_adapter(
    settings: Settings, closers: Closers, budget: RetryBudget | None
) -> ItemStore:
    if settings.backend == "aws":
        from adapters.items.dynamodb.store import DynamoDbItemStore
        from api.aws_clients import dynamodb_client

        return DynamoDbItemStore(dynamodb_client(settings), settings.table_name, budget=budget)
    from adapters.items.sqlite import SqliteItemStore

    store = SqliteItemStore(_data_dir(settings) / ITEMS_FILE)
    closers.append(store.close)
    return store


def _build_blobs(settings: Settings) -> tuple[BlobStore, LocalBlobStore | None]:
    if settings.backend == "aws":
        from adapters.blobs.s3 import S3BlobStore
        from api.aws_clients import s3_client

        assert settings.bucket is not None  # Settings refuses BACKEND=aws without a bucket
        return S3BlobStore(s3_client(settings), settings.bucket), None
    from adapters.blobs.local.signing import BlobSigningKeyError, load_or_create_signing_key
    from adapters.blobs.local.store import LocalBlobStore

    data_dir = _data_dir(settings)
    try:
        signing_key = load_or_create_signing_key(data_dir / BLOB_SIGNING_KEY_FILE)
    except BlobSigningKeyError as exc:
        raise SettingsError(f"invalid setting DEMOBACKEND_DATA_DIR: {exc}") from None
    store = LocalBlobStore(
        data_dir / BLOBS_DIR, base_url=settings.base_url, signing_key=signing_key
    )
    try:
        store.prepare()
    except StoreUnavailableError:
        raise SettingsError(
            f"invalid setting DEMOBACKEND_DATA_DIR: cannot create {data_dir / BLOBS_DIR}"
        ) from None
    return store, store


def restore_worker_recipes(settings: Settings, src: str) -> WorkerRecipes | None:
    """How a restore's worker processes open the source and the blob store, when they can
    open their own: a directory backup into the local blob store (for S3 the bytes are
    network-bound, and threads in the restoring process already overlap them)."""
    from ops.backup.blob_copy import WorkerRecipes
    from ops.backup.targets import DirectoryTarget, is_s3_spec

    if settings.backend == "aws" or is_s3_spec(src) or not src:
        return None
    return WorkerRecipes(partial(DirectoryTarget, Path(src)), partial(open_local_blobs, settings))


def open_local_blobs(settings: Settings) -> BlobStore:
    """The local blob store, opened on its own (by a restore's worker process)."""
    store, _ = _build_blobs(settings)
    return store


def _cursor_key(settings: Settings) -> bytes:
    if settings.cursor_secret is not None:
        return bytes.fromhex(settings.cursor_secret.get_secret_value())
    from adapters.private_files import PrivateFileError, load_or_create_private_file

    try:
        key_file = load_or_create_private_file(
            _data_dir(settings) / CURSOR_KEY_FILE, lambda: secrets.token_bytes(32)
        )
    except PrivateFileError as exc:
        raise SettingsError(f"invalid setting DEMOBACKEND_DATA_DIR: {exc}") from None
    return key_file.content


def _data_dir(settings: Settings) -> Path:
    data_dir = settings.data_dir
    try:
        # Private: it holds the identity provider's signing key and password hashes.
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(
            f"invalid setting DEMOBACKEND_DATA_DIR: cannot create {data_dir} ({exc.strerror})"
        ) from None
    if not os.access(data_dir, os.W_OK):
        raise SettingsError(f"invalid setting DEMOBACKEND_DATA_DIR: {data_dir} is not writable")
    return data_dir


def _build_dev_idp(settings: Settings, items: ItemStore) -> DevIdentityProvider | None:
    if settings.auth_mode != "local":
        return None
    from adapters.identity.dev_idp import DevIdentityProvider

    return DevIdentityProvider(
        store=items,
        key_path=_data_dir(settings) / DEV_IDP_KEY_FILE,
        issuer=settings.dev_issuer,
        client_id=settings.dev_client_id,
        token_ttl_seconds=settings.token_ttl_seconds,
        refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
    )


def _cognito_accounts(settings: Settings) -> IdentityAccounts:
    from adapters.identity.cognito_accounts import CognitoAccounts
    from api.aws_clients import cognito_client

    assert settings.cognito_user_pool_id is not None  # Settings requires it in cognito mode
    return CognitoAccounts(cognito_client(settings), settings.cognito_user_pool_id)


def cognito_issuer(settings: Settings) -> str:
    return (
        f"https://cognito-idp.{settings.aws_region}.amazonaws.com/{settings.cognito_user_pool_id}"
    )


def _build_verifier(
    settings: Settings, dev_idp: DevIdentityProvider | None, breaker: CircuitBreaker | None
) -> TokenVerifier:
    from adapters.identity.jwks_sources import HttpJwksSource, JwksSource, StaticJwksSource
    from adapters.identity.jwt_verifier import JwtVerifier
    from adapters.resilience.guarded import GuardedJwksSource

    if dev_idp is not None:
        from adapters.identity.dev_idp import DevIdpKeyError

        try:
            jwks = dev_idp.jwks()
        except DevIdpKeyError as exc:
            raise SettingsError(f"invalid setting DEMOBACKEND_DATA_DIR: {exc}") from None
        return JwtVerifier(
            issuer=settings.dev_issuer,
            client_ids=frozenset(settings.client_ids),
            jwks_source=StaticJwksSource(jwks),
        )
    issuer = cognito_issuer(settings)
    # An emulator (moto) serves the pool's JWKS under its own endpoint, but its tokens
    # still name the real AWS issuer.
    jwks_base = (
        f"{settings.aws_endpoint_url.rstrip('/')}/{settings.cognito_user_pool_id}"
        if settings.aws_endpoint_url
        else issuer
    )
    source: JwksSource = HttpJwksSource(
        f"{jwks_base}/.well-known/jwks.json", timeout=JWKS_FETCH_TIMEOUT_SECONDS
    )
    if breaker is not None:
        source = GuardedJwksSource(source, breaker)
    return JwtVerifier(issuer=issuer, client_ids=frozenset(settings.client_ids), jwks_source=source)
