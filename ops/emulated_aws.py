"""Provision the stack's resources in an AWS-compatible endpoint (moto) and sign users in
through Cognito's admin API: for tests and for `make serve-aws`, never for production."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ops.aws_resources import create_bucket, create_table, create_user_pool

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient as CognitoClient
    from mypy_boto3_cognito_idp.type_defs import AttributeTypeTypeDef
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class EmulatedStack:
    table_name: str
    bucket: str
    user_pool_id: str
    client_id: str

    def settings_env(self, endpoint: str, region: str) -> dict[str, str]:
        """The DEMOBACKEND_* variables that point the app at this stack."""
        return {
            "DEMOBACKEND_BACKEND": "aws",
            "DEMOBACKEND_AUTH_MODE": "cognito",
            "DEMOBACKEND_AWS_ENDPOINT_URL": endpoint,
            "DEMOBACKEND_AWS_REGION": region,
            "DEMOBACKEND_TABLE_NAME": self.table_name,
            "DEMOBACKEND_BUCKET": self.bucket,
            "DEMOBACKEND_COGNITO_USER_POOL_ID": self.user_pool_id,
            "DEMOBACKEND_COGNITO_CLIENT_IDS": self.client_id,
            # Emulator-only: a fixed cursor key is fine where the data dies with the process.
            "DEMOBACKEND_CURSOR_SECRET": "0" * 64,
        }


def provision(
    *,
    dynamodb: DynamoDBClient,
    s3: S3Client,
    cognito: CognitoClient,
    name: str,
    region: str,
) -> EmulatedStack:
    table_name, bucket = f"{name}-items", f"{name}-files"
    create_table(dynamodb, table_name)
    create_bucket(s3, bucket, region)
    pool_id, client_id = create_user_pool(cognito, name)
    return EmulatedStack(table_name, bucket, pool_id, client_id)


@dataclass(frozen=True)
class CognitoTokens:
    id_token: str
    access_token: str
    refresh_token: str = ""


def sign_in(
    cognito: CognitoClient,
    *,
    pool_id: str,
    client_id: str,
    username: str,
    password: str,
    groups: tuple[str, ...] = (),
    email: str | None = None,
) -> CognitoTokens:
    """Create the user if needed (confirmed, permanent password) and sign in."""
    attributes: list[AttributeTypeTypeDef] = [{"Name": "email", "Value": email}] if email else []
    try:
        cognito.admin_create_user(
            UserPoolId=pool_id,
            Username=username,
            UserAttributes=attributes,
            MessageAction="SUPPRESS",
        )
    except cognito.exceptions.UsernameExistsException:
        pass
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username=username, Password=password, Permanent=True
    )
    for group in groups:
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
    result = cognito.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )["AuthenticationResult"]
    return CognitoTokens(
        id_token=result["IdToken"],
        access_token=result["AccessToken"],
        refresh_token=result.get("RefreshToken", ""),
    )
