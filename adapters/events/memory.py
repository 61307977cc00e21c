"""The in-process event bus: the local server's FileEventPublisher and FileEventSource.

Routing is by key, never a broadcast: an event goes to the subscribers of its file, to the
unfiltered subscribers among its audience (owner, grantees, the user it was shared with or
unshared from) and to admins' unfiltered subscriptions. Access is decided later, per
subscriber, at delivery (domain/access.py). Publishing never waits on a subscriber: each
has a bounded queue, and one that overflows ends with EventBacklogError instead of
holding back the writer or silently missing an event.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from domain.events import EventBacklogError, FileEvent, FileEventInterest


class _Subscriber:
    __slots__ = ("interest", "overflowed", "queue")

    def __init__(self, interest: FileEventInterest, backlog: int) -> None:
        self.interest = interest
        self.queue: asyncio.Queue[FileEvent] = asyncio.Queue(maxsize=backlog)
        self.overflowed = False

    def offer(self, event: FileEvent) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            # A full queue never blocks its reader, so it learns of this on its next read.
            self.overflowed = True

    async def events(self) -> AsyncIterator[FileEvent]:
        while True:
            event = await self.queue.get()
            if self.overflowed:
                raise EventBacklogError
            yield event


class MemoryFileEventBus:
    def __init__(self, *, backlog: int = 1000) -> None:
        if backlog < 1:
            raise ValueError("backlog must be at least 1")
        self._backlog = backlog
        self._by_file: dict[str, set[_Subscriber]] = {}
        self._by_user: dict[str, set[_Subscriber]] = {}
        self._admins: set[_Subscriber] = set()

    @property
    def subscriber_count(self) -> int:
        files = sum(len(subs) for subs in self._by_file.values())
        users = sum(len(subs) for subs in self._by_user.values())
        return files + users + len(self._admins)

    async def publish(self, event: FileEvent) -> None:
        targets = set(self._by_file.get(event.file_id, ()))
        for user_id in event.audience():
            targets.update(self._by_user.get(user_id, ()))
        targets.update(self._admins)
        for subscriber in targets:
            subscriber.offer(event)

    @asynccontextmanager
    async def subscribe(
        self, interest: FileEventInterest
    ) -> AsyncIterator[AsyncIterator[FileEvent]]:
        subscriber = _Subscriber(interest, self._backlog)
        registry = self._registry_of(interest)
        registry.add(subscriber)
        try:
            yield subscriber.events()
        finally:
            registry.discard(subscriber)
            self._prune(interest)

    def _registry_of(self, interest: FileEventInterest) -> set[_Subscriber]:
        if interest.file_id is not None:
            return self._by_file.setdefault(interest.file_id, set())
        if interest.viewer.is_admin:
            return self._admins
        return self._by_user.setdefault(interest.viewer.user_id, set())

    def _prune(self, interest: FileEventInterest) -> None:
        # Empty sets are dropped so the maps grow with live subscribers, not with history.
        for key, table in (
            (interest.file_id, self._by_file),
            (interest.viewer.user_id, self._by_user),
        ):
            if key is not None and key in table and not table[key]:
                del table[key]
