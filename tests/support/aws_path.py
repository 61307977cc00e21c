"""The Lambda handler on production's code path: BACKEND=aws and AUTH_MODE=cognito against
DynamoDB, S3 and Cognito served by moto over HTTP on 127.0.0.1."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from api.lambda_handler import LambdaHandler
from ops.emulated_aws import CognitoTokens, EmulatedStack, sign_in
from tests.support.apigw_events import LambdaContext, http_api_event, response_json
from tests.support.file_client import FileClient
from tests.support.moto_server import cognito_client

PASSWORD = "correct-horse-battery-staple"


@dataclass
class AwsPath:
    stack: EmulatedStack
    endpoint: str
    handler: LambdaHandler

    def ask(
        self, query: str, token: str | None = None, variables: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = dict(variables)
        event = http_api_event("POST", "/graphql", body=body, headers=headers)
        response = self.handler(event, LambdaContext())
        assert response["statusCode"] == 200
        answer: dict[str, Any] = response_json(response)
        return answer

    def tokens(self, username: str, *, client_id: str | None = None, **kw: Any) -> CognitoTokens:
        return sign_in(
            cognito_client(self.endpoint),
            pool_id=self.stack.user_pool_id,
            client_id=client_id or self.stack.client_id,
            username=username,
            password=PASSWORD,
            **kw,
        )

    def file_client(self, username: str) -> FileClient:
        """A FileClient signed in with a Cognito ID token, asking through the handler."""
        token = self.tokens(username).id_token
        return FileClient(lambda query, variables: self.ask(query, token, variables))
