"""`make serve-aws`: the local server on production's code path — DynamoDB, S3 and Cognito
— served by an in-process moto server on 127.0.0.1. No AWS account, nothing leaves the
machine, and the data is gone when it stops.

Prints a Cognito ID token for a demo user so GraphiQL and curl work at once.
"""

import argparse
import logging
import os
import sys

REGION = "us-east-1"
DEMO_PASSWORD = "demo-password-not-secret"  # noqa: S105 - an emulator-only demo user


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--user", default="alice", help="demo user to create and sign in")
    args = parser.parse_args()

    import boto3
    import uvicorn
    from moto.server import ThreadedMotoServer

    from api.app import build_app
    from api.settings import SettingsError, load_settings
    from ops.emulated_aws import provision, sign_in

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # boto3 reads credentials from the environment; these are valid nowhere.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[name] = "emulated"
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
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
        tokens = sign_in(
            cognito,
            pool_id=stack.user_pool_id,
            client_id=stack.client_id,
            username=args.user,
            password=DEMO_PASSWORD,
        )
        env = {
            name.removeprefix("DEMOBACKEND_").lower(): value
            for name, value in stack.settings_env(endpoint, REGION).items()
        }
        try:
            settings = load_settings(**env, port=args.port, introspection=True)
        except SettingsError as error:
            print(f"serve-aws: {error}", file=sys.stderr)
            return 2
        print(
            f"AWS code path on moto ({endpoint}): table {stack.table_name}, bucket {stack.bucket}"
        )
        print(f"  GraphiQL: {settings.base_url}/graphql")
        print(f"  Cognito ID token for {args.user!r} (paste as 'Authorization: Bearer …'):")
        print(tokens.id_token)
        uvicorn.run(build_app(settings), host="127.0.0.1", port=args.port, log_level="warning")
    finally:
        moto.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
