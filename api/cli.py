"""`demobackend …` commands. Exit 0 on success; on failure one clear line and non-zero."""

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from api.settings import Settings, SettingsError, load_settings
from domain.errors import DomainError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from api.bootstrap import Deps
    from domain.ports import IdentityAccounts

EXIT_FAILURE = 1
EXIT_BAD_SETTINGS = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        # Flags beat the environment; an absent flag leaves the setting to the environment.
        flags = {name: getattr(args, name, None) for name in ("host", "port")}
        settings = load_settings(**{name: v for name, v in flags.items() if v is not None})
        result: int = args.run(settings, args)
        return result
    except SettingsError as error:
        print(f"demobackend: {error}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    except DomainError as error:
        print(f"demobackend: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_FAILURE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="demobackend",
        description="DemoBackend: serve the API and manage its data.",
        epilog="Settings come from DEMOBACKEND_* variables; see the README.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="run the API server (GraphQL, playground, local sign-in and blobs)"
    )
    serve.add_argument("--host", help="address to bind (default 127.0.0.1, DEMOBACKEND_HOST)")
    serve.add_argument("--port", type=int, help="port (default 8000, DEMOBACKEND_PORT)")
    serve.set_defaults(run=_serve)

    token = commands.add_parser(
        "token",
        help="print an ID token for USERNAME (local sign-in only), creating the user if needed",
    )
    token.add_argument("username")
    token.add_argument(
        "--group", action="append", default=[], help="add the user to this group (repeatable)"
    )
    token.set_defaults(run=_token)

    reindex = commands.add_parser(
        "reindex",
        help="rebuild the search index from the metadata (safe while the server runs)",
    )
    reindex.set_defaults(run=_reindex)
    recount = commands.add_parser(
        "recount-usage",
        help="recount every user's storage usage from their files (once after upgrading; "
        "safe while the server runs)",
    )
    recount.set_defaults(run=_recount_usage)
    replay = commands.add_parser(
        "replay-upload-events",
        help="complete the uploads whose S3 events Lambda gave up on (the stack's DLQ)",
        epilog="QUEUE_URL: the stack's output UploadEventsDlqUrl. See infra/README.md.",
    )
    replay.add_argument("--queue-url", required=True, help="the dead-letter queue's URL")
    replay.add_argument(
        "--max-messages", type=int, default=1000, help="stop after this many (default 1000)"
    )
    replay.set_defaults(run=_replay_upload_events)
    purge = commands.add_parser(
        "purge-accounts",
        help="finish account deletions a crash or timeout interrupted (safe to repeat)",
    )
    purge.set_defaults(run=_purge_accounts)
    _add_backup_commands(commands)
    return parser


def _add_backup_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    where = "a directory or s3://BUCKET[/PREFIX]"
    backup = commands.add_parser(
        "backup",
        help="back up every item and file's bytes into DEST (incremental, checksummed)",
        epilog="Encrypted when DEMOBACKEND_BACKUP_ENCRYPTION_KEY is set. See ops/backup/README.md.",
    )
    backup.add_argument("dest", metavar="DEST", help=where)
    backup.set_defaults(run=_backup)

    verify = commands.add_parser(
        "verify-backup", help="check every checksum and reference of a backup in SRC"
    )
    verify.add_argument("src", metavar="SRC", help=where)
    verify.add_argument("--backup", help="backup id (default: the latest complete one)")
    verify.set_defaults(run=_verify_backup)

    restore = commands.add_parser(
        "restore",
        help="restore a backup from SRC into the configured (empty) store; resumable",
    )
    restore.add_argument("src", metavar="SRC", help=where)
    restore.add_argument("--backup", help="backup id (default: the latest complete one)")
    restore.add_argument(
        "--force", action="store_true", help="restore even though the target holds data"
    )
    restore.add_argument(
        "--defer-search-index",
        action="store_true",
        help="skip rebuilding the search index (serve sooner; run `reindex` afterwards)",
    )
    restore.add_argument(
        "--map-users-by",
        choices=["username"],
        help="give files, shares and profiles to the users of the same username in the "
        "configured identity provider (e.g. a local backup into Cognito)",
    )
    restore.add_argument(
        "--skip-unmapped",
        action="store_true",
        help="with --map-users-by: leave out users the identity provider does not hold "
        "(their files and shares) instead of refusing",
    )
    restore.set_defaults(run=_restore)

    drill = commands.add_parser(
        "drill",
        help="back up, restore into a scratch store, compare; prints the measured RTO",
    )
    drill.add_argument(
        "--workdir", type=Path, help="where the backup and scratch store go (default: a temp dir)"
    )
    drill.add_argument("--json", action="store_true", help="print the report as JSON")
    drill.set_defaults(run=_drill)


def _backup_key(settings: Settings) -> str | None:
    key = settings.backup_encryption_key
    return key.get_secret_value() if key is not None else None


def _s3_factory(settings: Settings) -> "Callable[[], S3Client]":
    def build() -> "S3Client":
        from api.aws_clients import s3_client

        return s3_client(settings)

    return build


def _with_stores(settings: Settings, work: "Callable[[Deps], Awaitable[int]]") -> int:
    from api.bootstrap import build_deps

    deps = build_deps(settings)

    async def run() -> int:
        try:
            return await work(deps)
        finally:
            await deps.aclose()

    return asyncio.run(run())


def _backup(settings: Settings, args: argparse.Namespace) -> int:
    from ops.backup.commands import backup_command

    return _with_stores(
        settings,
        lambda deps: backup_command(
            deps.items,
            deps.blobs,
            args.dest,
            key_hex=_backup_key(settings),
            source=settings.backend,
            s3_client=_s3_factory(settings),
        ),
    )


def _verify_backup(settings: Settings, args: argparse.Namespace) -> int:
    from ops.backup.commands import verify_command

    return asyncio.run(
        verify_command(
            args.src,
            backup_id=args.backup,
            key_hex=_backup_key(settings),
            s3_client=_s3_factory(settings),
        )
    )


def _restore(settings: Settings, args: argparse.Namespace) -> int:
    from api.bootstrap import restore_worker_recipes
    from ops.backup.commands import restore_command

    if args.skip_unmapped and args.map_users_by is None:
        print("demobackend: --skip-unmapped goes with --map-users-by", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    return _with_stores(
        settings,
        lambda deps: restore_command(
            deps.items,
            deps.blobs,
            args.src,
            backup_id=args.backup,
            force=args.force,
            rebuild_index=not args.defer_search_index,
            key_hex=_backup_key(settings),
            s3_client=_s3_factory(settings),
            map_users_to=_map_users_to(deps, args),
            skip_unmapped=args.skip_unmapped,
            worker_recipes=restore_worker_recipes(settings, args.src),
            workers=settings.restore_workers,
        ),
    )


def _map_users_to(deps: "Deps", args: argparse.Namespace) -> "IdentityAccounts | None":
    if args.map_users_by is None:
        return None
    if deps.identity is None:  # never silently restore under the backup's ids instead
        raise SettingsError("no identity provider is configured to map users onto")
    return deps.identity


def _drill(settings: Settings, args: argparse.Namespace) -> int:
    import tempfile

    from ops.backup.commands import drill_command

    def run(workdir: Path) -> int:
        return _with_stores(
            settings,
            lambda deps: drill_command(
                deps.items,
                deps.blobs,
                workdir,
                key_hex=_backup_key(settings),
                source=settings.backend,
                as_json=args.json,
            ),
        )

    if args.workdir is not None:
        return run(args.workdir)
    with tempfile.TemporaryDirectory(prefix="demobackend-drill-") as workdir:
        return run(Path(workdir))


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import build_app
    from api.log_redaction import SignatureRedactingFilter

    # The access log prints query strings, and presigned URLs carry their signature there.
    logging.getLogger("uvicorn.access").addFilter(SignatureRedactingFilter())
    app = build_app(settings)
    # The cyclic collector took ~10-17% of the server's time under load (bench/README.md,
    # Hot spots item 31): besides the full passes over what start-up built (frozen below),
    # a young collection ran about once per request (at 700 net new objects) and promoted
    # the live objects of the requests in flight to older generations. 10,000 bounds the
    # cyclic garbage that waits for a collection to a few MB.
    gc.set_threshold(10_000, 10, 10)
    base = f"http://{settings.host}:{settings.port}"
    print(f"DemoBackend ({settings.backend} backend, {settings.auth_mode} sign-in) on {base}")
    print(f"  GraphiQL playground: {base}/graphql")
    if settings.auth_mode == "local":
        print("  Get a token:  .venv/bin/demobackend token alice   (or: make token NAME=alice)")
        print('  then in GraphiQL\'s Headers pane: {"Authorization": "Bearer <token>"}')
    _freeze_start_up_objects()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0


def _freeze_start_up_objects() -> None:
    """Move what start-up built (modules, the schema, the app and its adapters: objects
    that live as long as the server) out of the cyclic collector's generations. Every
    full collection walked them all again, stopping every request meanwhile: under the
    load mix the full passes took ~100 ms each at the median, ~6 ms once frozen
    (bench/README.md "Load", the tail). The garbage start-up left is collected first."""
    gc.collect()
    gc.freeze()


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from api.bootstrap import build_deps

    if settings.auth_mode != "local":
        raise SettingsError(
            "invalid setting DEMOBACKEND_AUTH_MODE: `token` issues local tokens; "
            "with cognito, sign in through Cognito"
        )
    deps = build_deps(settings)

    async def issue() -> str:
        try:
            assert deps.dev_idp is not None
            tokens = await deps.dev_idp.issue_tokens_for(args.username, groups=args.group)
            return tokens.id_token
        finally:
            await deps.aclose()

    print(asyncio.run(issue()))
    return 0


def _replay_upload_events(settings: Settings, args: argparse.Namespace) -> int:
    from api.aws_clients import sqs_client
    from api.lambda_handler import complete_uploads, is_s3_notification
    from ops.upload_events import ReplayError, replay_upload_events

    if args.max_messages < 1:
        print("demobackend: --max-messages must be at least 1", file=sys.stderr)
        return EXIT_BAD_SETTINGS

    async def replay(deps: "Deps") -> int:
        summary = await replay_upload_events(
            sqs_client(settings),
            args.queue_url,
            lambda records: complete_uploads(deps.services, settings.bucket, records),
            is_s3_notification,
            max_messages=args.max_messages,
        )
        print(" ".join(f"{name}={value}" for name, value in summary.as_dict().items()))
        # Anything left in the queue needs another run (or a look): say so in the exit code.
        return EXIT_FAILURE if summary.retry_later or summary.unrecognised else 0

    try:
        return _with_stores(settings, replay)
    except ReplayError as error:
        print(f"demobackend: {error}", file=sys.stderr)
        return EXIT_FAILURE


def _reindex(settings: Settings, args: argparse.Namespace) -> int:
    from api.bootstrap import build_deps
    from domain.files import rebuild_listings
    from domain.search.reindex import reindex, text_bar

    deps = build_deps(settings)

    def show(done: int, total: int) -> None:
        print(text_bar(done, total), end="\n" if done == total else "", file=sys.stderr)

    async def run() -> int:
        try:
            # Listing items first: data from before them is listed only once they exist.
            await rebuild_listings(deps.items)
            return await reindex(
                deps.items,
                sync_file=deps.services.files.index_for_search,
                sync_user=deps.services.users.index_for_search,
                progress=show,
            )
        finally:
            await deps.aclose()

    count = asyncio.run(run())
    print(f"reindexed {count} documents")
    return 0


def _recount_usage(settings: Settings, args: argparse.Namespace) -> int:
    from domain.clock import utc_now
    from domain.files import recount_all_usage

    async def run(deps: "Deps") -> int:
        summary = await recount_all_usage(deps.items, utc_now)
        print(
            f"recounted usage of {summary.owners} users: {summary.used_bytes} bytes, "
            f"{summary.pending_uploads} unfinished uploads"
        )
        return 0

    return _with_stores(settings, run)


def _purge_accounts(settings: Settings, args: argparse.Namespace) -> int:
    async def run(deps: "Deps") -> int:
        accounts = deps.services.accounts
        assert accounts is not None  # build_deps always gives an identity provider
        count = await accounts.finish_deletions()
        print(f"finished {count} account deletion{'' if count == 1 else 's'}")
        return 0

    return _with_stores(settings, run)


if __name__ == "__main__":
    sys.exit(main())
