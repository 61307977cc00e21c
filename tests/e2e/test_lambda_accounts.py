"""Accounts on production's path (Cognito on moto's server). Sign-out: our mark refuses
the old tokens at once, and AdminUserGlobalSignOut really reached Cognito (its refresh
token stops working there). Deletion: AdminDeleteUser removes the Cognito user. Export:
the archive is written to S3 and downloads through its presigned URL."""

import io
import json
import tarfile
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from tests.support.aws_path import AwsPath
from tests.support.moto_server import cognito_client

pytestmark = pytest.mark.slow

ME = "{ me { username } }"


def cognito_refresh(aws_path: AwsPath, refresh_token: str) -> str:
    """The new ID token."""
    result = cognito_client(aws_path.endpoint).admin_initiate_auth(
        UserPoolId=aws_path.stack.user_pool_id,
        ClientId=aws_path.stack.client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": refresh_token},
    )
    return result["AuthenticationResult"]["IdToken"]


def test_sign_out_everywhere_refuses_old_tokens_and_signs_out_of_cognito(
    aws_path: AwsPath,
) -> None:
    alice, bob = aws_path.tokens("alice"), aws_path.tokens("bob")
    assert alice.refresh_token
    assert cognito_refresh(aws_path, alice.refresh_token)  # works before

    answer = aws_path.ask("mutation { signOutEverywhere }", alice.access_token)
    assert answer == {"data": {"signOutEverywhere": True}}

    for token in (alice.id_token, alice.access_token):
        refused = aws_path.ask(ME, token)
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["UNAUTHENTICATED"]
    with pytest.raises(ClientError) as caught:
        cognito_refresh(aws_path, alice.refresh_token)
    assert caught.value.response["Error"]["Code"] == "NotAuthorizedException"
    assert aws_path.ask(ME, bob.id_token) == {"data": {"me": {"username": "bob"}}}

    time.sleep(1.05)  # token times are whole seconds
    again = aws_path.tokens("alice")
    assert aws_path.ask(ME, again.id_token) == {"data": {"me": {"username": "alice"}}}


def test_delete_account_removes_the_cognito_user_and_refuses_its_tokens(
    aws_path: AwsPath,
) -> None:
    gail = aws_path.tokens("gail")
    wrong = aws_path.ask('mutation { deleteAccount(confirm: "Gail") }', gail.id_token)
    assert [e["extensions"]["code"] for e in wrong["errors"]] == ["BAD_USER_INPUT"]
    cognito = cognito_client(aws_path.endpoint)
    cognito.admin_get_user(UserPoolId=aws_path.stack.user_pool_id, Username="gail")  # still there

    answer = aws_path.ask('mutation { deleteAccount(confirm: "gail") }', gail.id_token)
    assert "errors" not in answer, answer

    with pytest.raises(ClientError) as caught:
        cognito.admin_get_user(UserPoolId=aws_path.stack.user_pool_id, Username="gail")
    assert caught.value.response["Error"]["Code"] == "UserNotFoundException"
    refused = aws_path.ask(ME, gail.access_token)
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["UNAUTHENTICATED"]


def test_export_my_data_is_written_to_s3_and_downloads_as_a_tar(aws_path: AwsPath) -> None:
    hana = aws_path.tokens("hana")
    answer = aws_path.ask("mutation { exportMyData { id status url } }", hana.id_token)
    export = answer["data"]["exportMyData"]
    assert export["status"] == "READY", answer
    with urllib.request.urlopen(export["url"], timeout=10) as response:
        data = response.read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert (manifest["user"]["username"], manifest["files"]) == ("hana", [])
    again = aws_path.ask("mutation { exportMyData { id status } }", hana.id_token)
    assert again["data"]["exportMyData"] == {"id": export["id"], "status": "READY"}
