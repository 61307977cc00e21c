"""The backup commands run in-process here, reading what they print from stdout. A test
elsewhere in the session that built the app has configured the app's JSON log handler
(api/observability/logs.py), which writes to stdout; a command run from a shell in its
own process has none. Each test here runs without it, as that shell would."""

import logging
from collections.abc import Iterator

import pytest

from api.observability.logs import PACKAGE_LOGGERS, SERVICE, StdoutHandler


@pytest.fixture(autouse=True)
def no_app_log_handler_on_stdout() -> Iterator[None]:
    removed: list[tuple[logging.Logger, logging.Handler]] = []
    for name in (SERVICE, *PACKAGE_LOGGERS):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if isinstance(handler, StdoutHandler):
                logger.removeHandler(handler)
                removed.append((logger, handler))
    yield
    for logger, handler in removed:
        logger.addHandler(handler)
