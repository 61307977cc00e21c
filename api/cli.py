"""`demobackend …` commands. Exit 0 on success; on failure one clear line and non-zero."""

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from api.settings import Settings, SettingsError, load_settings
from domain.errors import DomainError

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
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import build_app
    from api.blob_routes import SignatureRedactingFilter

    # The access log prints query strings, and presigned URLs carry their signature there.
    logging.getLogger("uvicorn.access").addFilter(SignatureRedactingFilter())
    app = build_app(settings)
    base = f"http://{settings.host}:{settings.port}"
    print(f"DemoBackend ({settings.backend} backend, {settings.auth_mode} sign-in) on {base}")
    print(f"  GraphiQL playground: {base}/graphql")
    if settings.auth_mode == "local":
        print("  Get a token:  .venv/bin/demobackend token alice   (or: make token NAME=alice)")
        print('  then in GraphiQL\'s Headers pane: {"Authorization": "Bearer <token>"}')
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0


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


def _reindex(settings: Settings, args: argparse.Namespace) -> int:
    from api.bootstrap import build_deps
    from domain.search.reindex import reindex, text_bar

    deps = build_deps(settings)

    def show(done: int, total: int) -> None:
        print(text_bar(done, total), end="\n" if done == total else "", file=sys.stderr)

    async def run() -> int:
        try:
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


if __name__ == "__main__":
    sys.exit(main())
