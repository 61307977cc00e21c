"""`make token-aws NAME=alice [GROUP=admin]`: a Cognito ID token from the emulator a running
`make serve-aws` started, found through DEMOBACKEND_DATA_DIR (the same setting). Creates
the user in the emulated pool if needed; the token is the last line of the output."""

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("username")
    parser.add_argument("--group", action="append", default=[], help="e.g. admin; repeatable")
    args = parser.parse_args(argv)

    import boto3

    from api.settings import SettingsError, load_settings
    from ops.emulated_aws import sign_in
    from ops.emulator_file import EmulatorNotRunningError, read_info

    try:
        info = read_info(load_settings().data_dir)
    except (SettingsError, EmulatorNotRunningError) as error:
        print(f"token-aws: {error}", file=sys.stderr)
        return 2
    # The emulator accepts any credentials; these are valid nowhere.
    cognito = boto3.session.Session().client(
        "cognito-idp",
        region_name=info.region,
        endpoint_url=info.endpoint,
        aws_access_key_id="emulated",
        aws_secret_access_key="emulated",  # noqa: S106 - not a secret
    )
    tokens = sign_in(
        cognito,
        pool_id=info.user_pool_id,
        client_id=info.client_id,
        username=args.username,
        password=info.password,
        groups=tuple(args.group),
    )
    print(f"Cognito ID token for {args.username!r} (groups: {', '.join(args.group) or '-'}):")
    print(tokens.id_token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
