"""The ``--parameter-overrides`` of one samconfig.toml environment plus values that must
not live in the repository (account-specific ARNs), as one string for ``sam deploy``.

    sam deploy --config-env production --parameter-overrides \
        "$(python3 -m scripts.sam_overrides production AlarmTopicArn="$ALARM_TOPIC_ARN")"

SAM CLI replaces samconfig's ``parameter_overrides`` with the command line's instead of
merging them; this merges them, the command line winning. A value left empty is an error
rather than a silent empty parameter: an unset CI variable must not deploy production
without a pager (the template's Rules would refuse it too, later and less clearly).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

SAMCONFIG = Path(__file__).resolve().parents[1] / "infra" / "samconfig.toml"


class OverrideError(ValueError):
    """The environment or an extra value is not usable."""


def configured(environment: str, samconfig: Path = SAMCONFIG) -> dict[str, str]:
    config = tomllib.loads(samconfig.read_text(encoding="utf-8"))
    try:
        text = config[environment]["deploy"]["parameters"]["parameter_overrides"]
    except KeyError:
        raise OverrideError(f"{samconfig.name} has no [{environment}.deploy.parameters]") from None
    return dict(pair.split("=", 1) for pair in shlex.split(text))


def merged(environment: str, extra: Sequence[str], samconfig: Path = SAMCONFIG) -> str:
    values = configured(environment, samconfig)
    for pair in extra:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            raise OverrideError(f"{pair!r} is not NAME=VALUE")
        if not value:
            raise OverrideError(f"{name} is empty (is its CI variable set?)")
        if '"' in value or "\\" in value:
            raise OverrideError(f"{name}: quotes and backslashes are not allowed")
        values[name] = value
    # The form samconfig.toml itself uses, which SAM CLI's parser reads: Name="value".
    return " ".join(f'{name}="{value}"' for name, value in values.items())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("environment", help="a samconfig.toml environment: staging, production")
    parser.add_argument("values", nargs="*", metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    try:
        print(merged(args.environment, args.values))
    except OverrideError as error:
        print(f"sam_overrides: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
