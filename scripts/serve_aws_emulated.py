"""`make serve-aws`: the local server on production's code path — DynamoDB, S3 and Cognito
— served by an in-process moto server on 127.0.0.1. No AWS account, nothing leaves the
machine, and the data is gone when it stops.

Honours DEMOBACKEND_HOST, DEMOBACKEND_PORT and DEMOBACKEND_DATA_DIR like `make serve`; in
the data folder it leaves the emulator's address for `make token-aws` while it runs. Prints
a Cognito ID token for a demo user so GraphiQL and curl work at once.
"""

import argparse
import logging
import os
import secrets
import sys

REGION = "us-east-1"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=None, help="overrides DEMOBACKEND_PORT")
    parser.add_argument("--user", default="alice", help="demo user to create and sign in")
    args = parser.parse_args()

    import boto3
    import uvicorn
    from moto.server import ThreadedMotoServer

    from api.app import build_app
    from api.settings import SettingsError, load_settings
    from ops.emulated_aws import provision, sign_in
    from ops.emulator_file import EmulatorInfo, write_info

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # boto3 reads credentials from the environment; these are valid nowhere.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[name] = "emulated"
    os.environ.pop("AWS_SESSION_TOKEN", None)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    info_path = None
    try:
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        session = boto3.session.Session(region_name=REGION)

        cognito = session.client("cognito-idp", endpoint_url=endpoint)
        stack = provision(
            dynamodb=session.client("dynamodb", endpoint_url=endpoint),
            s3=session.client("s3", endpoint_url=endpoint),
            cognito=cognito,
            name="demobackend-emulated",
            region=REGION,
        )
        password = secrets.token_urlsafe(18)
        tokens = sign_in(
            cognito,
            pool_id=stack.user_pool_id,
            client_id=stack.client_id,
            username=args.user,
            password=password,
        )
        env = {
            name.removeprefix("DEMOBACKEND_").lower(): value
            for name, value in stack.settings_env(endpoint, REGION).items()
        }
        if args.port is not None:
            env["port"] = str(args.port)
        try:
            settings = load_settings(**env, introspection=True)
        except SettingsError as error:
            print(f"serve-aws: {error}", file=sys.stderr)
            return 2
        info = EmulatorInfo(endpoint, REGION, stack.user_pool_id, stack.client_id, password)
        info_path = write_info(settings.data_dir, info)
        print(
            f"AWS code path on moto ({endpoint}): table {stack.table_name}, bucket {stack.bucket}"
        )
        print(f"  GraphiQL: {settings.base_url}/graphql")
        print("  More users:  make token-aws NAME=bob [GROUP=admin]  (same DEMOBACKEND_DATA_DIR)")
        print(f"  Cognito ID token for {args.user!r} (paste as 'Authorization: Bearer …'):")
        print(tokens.id_token, flush=True)
        uvicorn.run(
            build_app(settings), host=settings.host, port=settings.port, log_level="warning"
        )
    finally:
        if info_path is not None:
            info_path.unlink(missing_ok=True)
        moto.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
