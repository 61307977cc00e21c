"""Presigned URLs' signatures kept out of log lines.

Apart from api/blob_routes.py (which re-exports it) so that every process's logging can
use it without importing the local blob endpoint and its store: on Lambda that import was
up to ~10 ms of the first build for routes never mounted there (bench/cold_import.py).
"""

import logging
import re
from typing import Any

__all__ = ["SignatureRedactingFilter", "redact_signatures"]

# Ours, SigV4's and SigV2's signatures, and the session token a presigned URL made with
# temporary credentials (Lambda's) carries.
_SIGNATURE_PARAM = re.compile(
    r"(?i)([?&](?:signature|x-amz-signature|x-amz-security-token)=)[^&\s\"']*"
)


def redact_signatures(text: str) -> str:
    """``text`` with the value of every URL signature (and session token) parameter
    replaced, so URLs can be logged without handing out working links."""
    return _SIGNATURE_PARAM.sub(r"\1REDACTED", text)


class SignatureRedactingFilter(logging.Filter):
    """Attach to ``uvicorn.access`` (which logs every request's path with its query):
    ``logging.getLogger("uvicorn.access").addFilter(SignatureRedactingFilter())``."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Every pattern ends in "=": a message or argument without one has nothing to
        # redact, so the common line (a bare message, no args) skips the regex.
        args = record.args
        if args and isinstance(args, tuple):
            record.args = tuple(_redacted(arg) for arg in args)
        record.msg = _redacted(record.msg)
        return True


def _redacted(value: Any) -> Any:
    if isinstance(value, str) and "=" in value:
        return redact_signatures(value)
    return value
