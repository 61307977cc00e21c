"""Build the persisted-operation allow-list from .graphql documents.

    .venv/bin/python -m scripts.persist_operations docs/*.graphql > ops.json
    DEMOBACKEND_PERSISTED_OPERATIONS_FILE=ops.json demobackend serve

Each file (or each ``*.graphql`` under a folder given) is ONE document: its operations
and the fragments they use. It is registered under the SHA-256 of its exact text, which is
what the client must send (as ``documentId: "sha256:<hex>"`` or as APQ's
``sha256Hash``) or send verbatim as ``query``. Every document is validated against the
schema here, so a stale one fails the build instead of failing at request time.

Writes the JSON map to stdout and one line per document (file, operations, hash prefix)
to stderr; exit 2 with one line when a file is unreadable or invalid.
"""

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from graphql import GraphQLError, OperationDefinitionNode, parse, validate

from api.persisted_operations import document_hash
from resolvers.schema import build_schema

EXIT_INVALID = 2


class DocumentError(Exception):
    pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.persist_operations",
        description="Print the allow-list JSON for DEMOBACKEND_PERSISTED_OPERATIONS_FILE.",
    )
    parser.add_argument("paths", nargs="+", type=Path, help=".graphql files or folders")
    args = parser.parse_args(argv)
    try:
        documents = persisted_documents(_graphql_files(args.paths))
    except DocumentError as exc:
        print(f"persist_operations: {exc}", file=sys.stderr)
        return EXIT_INVALID
    json.dump(documents, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


def persisted_documents(files: Iterable[Path]) -> dict[str, str]:
    """``{"sha256:<hex>": document}`` for every file, each checked against the schema."""
    schema = build_schema()._schema
    documents: dict[str, str] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DocumentError(f"{path}: cannot read ({exc})") from None
        try:
            errors: list[GraphQLError] = validate(schema, parse(text))
        except GraphQLError as exc:
            raise DocumentError(f"{path}: {exc.message}") from None
        if errors:
            raise DocumentError(f"{path}: {errors[0].message}")
        digest = document_hash(text)
        documents[f"sha256:{digest}"] = text
        names = ", ".join(_operation_names(text)) or "(unnamed)"
        print(f"{path}: {names} sha256:{digest[:12]}...", file=sys.stderr)
    if not documents:
        raise DocumentError("no .graphql documents found")
    return documents


def _graphql_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.graphql")) if path.is_dir() else [path])
    return files


def _operation_names(text: str) -> list[str]:
    return [
        definition.name.value if definition.name else "(unnamed)"
        for definition in parse(text).definitions
        if isinstance(definition, OperationDefinitionNode)
    ]


if __name__ == "__main__":
    sys.exit(main())
