"""API Gateway HTTP API (payload format 2.0) events, as Lambda receives them."""

import asyncio
import base64
import json
from typing import Any

from api.bootstrap import build_deps
from api.settings import load_settings


def http_api_event(
    method: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    request_id: str = "apigw-req-1",
    query: str = "",
) -> dict[str, Any]:
    raw_body = json.dumps(body) if body is not None else None
    all_headers = {"host": "api.example.com", "user-agent": "test", **(headers or {})}
    if raw_body is not None:
        all_headers.setdefault("content-type", "application/json")
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "test",
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": "28/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795867200000,
        },
        "body": raw_body,
        "isBase64Encoded": False,
    }


def response_json(response: dict[str, Any]) -> Any:
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body)


class LambdaContext:
    function_name = "demobackend-api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:demobackend-api"
    aws_request_id = "lambda-req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def local_id_token(username: str) -> str:
    """An ID token from the local dev IdP of the settings in the environment (DATA_DIR),
    creating the user if needed: what `demobackend token` prints."""
    deps = build_deps(load_settings())

    async def issue() -> str:
        try:
            assert deps.dev_idp is not None
            return (await deps.dev_idp.issue_tokens_for(username)).id_token
        finally:
            await deps.aclose()

    return asyncio.run(issue())
