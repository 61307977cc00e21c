"""Write schema.graphql from the Strawberry schema (`make schema`)."""

from pathlib import Path

from resolvers.schema import schema_sdl

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def main() -> None:
    SCHEMA_FILE.write_text(schema_sdl(), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE.name}")


if __name__ == "__main__":
    main()
