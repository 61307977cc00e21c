"""The fake ConnectionGateway: sockets as lists of messages, for tests and benchmarks.
Passes the same contract (tests/contract/test_connection_gateway.py) as API Gateway's."""

from dataclasses import dataclass, field

from domain.realtime import ConnectionGoneError


@dataclass
class MemoryConnections:
    sent: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    # connection id -> the protocol close code it was closed with
    closed: dict[str, int] = field(default_factory=dict)
    sends: int = 0

    def connect(self, connection_id: str) -> None:
        """What API Gateway does when a client opens a socket."""
        self.sent.setdefault(connection_id, [])
        self.closed.pop(connection_id, None)

    def drop(self, connection_id: str) -> None:
        """The client vanished (no $disconnect reached us yet)."""
        self.sent.pop(connection_id, None)

    async def send(self, connection_id: str, message: dict[str, object]) -> None:
        self.sends += 1
        if connection_id not in self.sent:
            raise ConnectionGoneError(connection_id)
        self.sent[connection_id].append(message)

    async def close(self, connection_id: str, code: int, reason: str) -> None:
        self.sent.pop(connection_id, None)
        self.closed[connection_id] = code
