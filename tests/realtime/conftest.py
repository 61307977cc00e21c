from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server_process import RunningServer, running_server

# Small limits, so every one of them is reached by a handful of messages.
LIMITS = {
    "DEMOBACKEND_SUBSCRIPTIONS_PER_CONNECTION": "3",
    "DEMOBACKEND_SUBSCRIPTION_CONNECTIONS_PER_USER": "3",
    "DEMOBACKEND_SUBSCRIPTION_MAX_MESSAGE_BYTES": "4096",
    "DEMOBACKEND_SUBSCRIPTION_MESSAGES_PER_SECOND": "2",
    "DEMOBACKEND_SUBSCRIPTION_MESSAGE_BURST": "10",
    "DEMOBACKEND_SUBSCRIPTION_KEEPALIVE_SECONDS": "0.5",
    "DEMOBACKEND_SUBSCRIPTION_INIT_TIMEOUT_SECONDS": "1",
    "DEMOBACKEND_LOG_LEVEL": "WARNING",
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("realtime") / "data"


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[RunningServer]:
    with running_server(data_dir, **LIMITS) as running:
        yield running
