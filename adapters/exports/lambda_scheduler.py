"""ExportScheduler on AWS Lambda: an asynchronous invocation (InvocationType=Event) of the
same function with ``{"demobackend": "export", "userId": ..., "exportId": ...}``.

A task left running after the response would be frozen with the container, so the build
gets an invocation of its own, with the function's whole timeout. Lambda retries a failed
asynchronous invocation twice; a build is safe to repeat. The role needs
lambda:InvokeFunction on the function itself (infra/template.yaml)."""

import asyncio
import json
import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from domain.errors import StoreUnavailableError

logger = logging.getLogger(__name__)

EXPORT_EVENT_KEY = "demobackend"
EXPORT_EVENT_VALUE = "export"


def export_event(user_id: str, export_id: str) -> dict[str, str]:
    return {EXPORT_EVENT_KEY: EXPORT_EVENT_VALUE, "userId": user_id, "exportId": export_id}


class LambdaExportScheduler:
    def __init__(self, client: Any, function_name: str | None = None) -> None:
        self._client = client
        self._function = function_name

    def target(self, function_arn: str) -> None:
        """The function to invoke: the one running, as the Lambda context names it (with
        its alias or version, so a build runs the code that scheduled it)."""
        self._function = function_arn

    async def schedule(self, user_id: str, export_id: str) -> None:
        if self._function is None:
            raise StoreUnavailableError("Could not start the export; try again")
        payload = json.dumps(export_event(user_id, export_id)).encode()
        try:
            await asyncio.to_thread(
                self._client.invoke,
                FunctionName=self._function,
                InvocationType="Event",
                Payload=payload,
            )
        except (BotoCoreError, ClientError) as exc:
            logger.warning("data export invocation failed: %s", type(exc).__name__)
            raise StoreUnavailableError("Could not start the export; try again") from None
