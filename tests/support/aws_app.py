"""The whole app on the AWS composition for in-process suites: BACKEND=aws and
AUTH_MODE=cognito, with DynamoDB, S3 and Cognito served by the process's moto server over
real HTTP on 127.0.0.1 (a fresh stack per use), and Cognito-issued tokens.

``aws_stack()`` provisions and yields an ``AwsApp``: the settings overrides that point the
app at the stack (for ``load_settings``) and ``token(username, groups)`` (a Cognito ID
token, the user created on first use). ``send(target, content)`` sends bytes to a
presigned upload target as a browser does: a POST form to S3.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import httpx

from api import aws_clients
from ops.emulated_aws import EmulatedStack, provision, sign_in
from tests.support.aws_stores import (
    drop_bucket,
    forget_tracked_items,
    shared_clients,
    without_stream,
)
from tests.support.moto_server import REGION, shared_moto_server, unique_name

PASSWORD = "correct-horse-battery-staple"
HTTP_TIMEOUT_SECONDS = 10.0
# boto3 inside the app reads credentials the usual way; these are valid nowhere.
_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass
class AwsApp:
    stack: EmulatedStack
    endpoint: str
    _tokens: dict[tuple[str, tuple[str, ...]], str] = field(default_factory=dict)

    @property
    def settings(self) -> dict[str, str]:
        """load_settings keyword overrides (the DEMOBACKEND_* variables, lower-cased)."""
        return {
            name.removeprefix("DEMOBACKEND_").lower(): value
            for name, value in self.stack.settings_env(self.endpoint, REGION).items()
        }

    def token(self, username: str, groups: tuple[str, ...] = ()) -> str:
        key = (username, groups)
        if key not in self._tokens:
            cognito = shared_clients(self.endpoint)[2]
            for group in groups:  # the stack's pool has the groups the app knows; tests add more
                try:
                    cognito.create_group(GroupName=group, UserPoolId=self.stack.user_pool_id)
                except cognito.exceptions.GroupExistsException:
                    pass
            tokens = sign_in(
                cognito,
                pool_id=self.stack.user_pool_id,
                client_id=self.stack.client_id,
                username=username,
                password=PASSWORD,
                groups=groups,
                email=f"{username}@example.com",
            )
            self._tokens[key] = tokens.id_token
        return self._tokens[key]


def send(target: Mapping[str, Any], content: bytes) -> httpx.Response:
    """POST the presigned form to S3 with the file part last (no Authorization header)."""
    assert target["method"] == "POST", target["method"]
    fields = dict(target["fields"])
    return httpx.post(
        target["url"],
        data=fields,
        files={"file": ("blob", content, fields.get("Content-Type", "application/octet-stream"))},
        timeout=HTTP_TIMEOUT_SECONDS,
    )


@contextlib.contextmanager
def aws_stack() -> Iterator[AwsApp]:
    endpoint = shared_moto_server()
    dynamodb, s3, cognito = shared_clients(endpoint)
    stack = provision(
        dynamodb=dynamodb, s3=s3, cognito=cognito, name=unique_name("app"), region=REGION
    )
    without_stream(dynamodb, stack.table_name)
    made_before = len(aws_clients.created_clients())
    try:
        with mock.patch.dict(os.environ, _CREDENTIALS):
            yield AwsApp(stack, endpoint)
    finally:
        # The composition root keeps every client it built (for SnapStart); one app per
        # test would otherwise keep hundreds alive.
        del aws_clients._created[made_before:]
        dynamodb.delete_table(TableName=stack.table_name)
        drop_bucket(s3, stack.bucket)
        cognito.delete_user_pool(UserPoolId=stack.user_pool_id)
        forget_tracked_items()
