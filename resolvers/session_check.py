"""The sign-out check of one HTTP request, made on the request's first item-store call.

Every authenticated request must learn, before it answers or changes anything, whether the
caller's account is deleted and whether the token's session began before a sign-out
(``UserProfiles.admit``). That takes the caller's profile and tombstone items. Rather than
a read of its own, the check adds those two keys to the request's first batched read (a
``file(id)`` query then costs one store call, not two) and settles before that read's
items reach the caller. Any other first call (a listing's query, a write) waits for the
check's own read first, and so does every call made while the check is in flight. A
request that made no store call at all is checked when its operation ends
(resolvers/extensions/session_scope.py), before its answer leaves.

The store decorator that does this (api/session_gate.py) finds the request's check in a
contextvar that the extension sets for the operation's duration.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from contextvars import ContextVar

from domain.errors import DomainError
from domain.models import Principal, User
from domain.ports import MAX_BATCH_GET, Item, Key
from domain.users import UserProfiles, profile_item, session_keys, user_from_item

Read = Callable[[Sequence[Key]], Awaitable[list[Item | None]]]

_ACTIVE: ContextVar["SessionCheck | None"] = ContextVar("session_check", default=None)


def active_session_check() -> "SessionCheck | None":
    return _ACTIVE.get()


def checking(check: "SessionCheck | None") -> AbstractContextManager[None]:
    """Store calls made inside (and in tasks started inside) go through ``check``."""
    return _Checking(check)


class _Checking:
    """``checking``'s context manager: a class, not ``@contextmanager``, as it is entered
    for every authenticated GraphQL operation (~0.7 µs less each)."""

    __slots__ = ("_check", "_token")

    def __init__(self, check: "SessionCheck | None") -> None:
        self._check = check

    def __enter__(self) -> None:
        self._token = _ACTIVE.set(self._check)

    def __exit__(self, *exc_info: object) -> None:
        _ACTIVE.reset(self._token)


class SessionCheck:
    def __init__(
        self,
        principal: Principal,
        profiles: UserProfiles,
        read: Read,
        *,
        admitted: Callable[[User], None],
        refused: Callable[[DomainError], None],
    ) -> None:
        self.principal = principal
        self._profiles = profiles
        self._read = read
        self._admitted = admitted
        self._refused = refused
        self._keys = session_keys(principal.user_id)
        # None until a call begins the check (again, after a store failure); then its end.
        self._outcome: asyncio.Future[User] | None = None
        self.refusal: DomainError | None = None

    @property
    def passed(self) -> bool:
        outcome = self._outcome
        return outcome is not None and outcome.done() and self.refusal is None

    async def read_through(self, read: Read, keys: Sequence[Key]) -> list[Item | None]:
        """``read(keys)``, never answered before the check passed; the request's first
        read carries the check's keys in its own batch."""
        if self._outcome is None and len(keys) + len(self._keys) <= MAX_BATCH_GET:
            return await self._fold(read, keys)
        await self.wait()
        return await read(keys)

    async def wait(self) -> None:
        """Return once the check passed (making its read if no call has begun it); raise
        the refusal, or the store's error if the read failed."""
        outcome = self._outcome
        if outcome is None:
            await self._fold(self._read, [])
        elif not self.passed:
            # Shielded: one waiter cancelled must not cancel the check for the others.
            await asyncio.shield(outcome)

    async def _fold(self, read: Read, keys: Sequence[Key]) -> list[Item | None]:
        outcome: asyncio.Future[User] = asyncio.get_running_loop().create_future()
        self._outcome = outcome
        # Where each key sits in the read, by (pk, sk): Key's dataclass __eq__ and __hash__
        # run in Python, and this runs on every authenticated request.
        asked = [*keys]
        at: dict[tuple[str, str], int] = {}
        for index, key in enumerate(asked):
            at.setdefault((key.pk, key.sk), index)
        for key in self._keys:
            if (key.pk, key.sk) not in at:
                at[key.pk, key.sk] = len(asked)
                asked.append(key)
        try:
            items = await read(asked)
        except BaseException as error:
            # The read failed: the waiters share the error, a later call checks again.
            self._outcome = None
            _settle(outcome, error)
            raise
        if len(items) != len(asked):
            raise ValueError("the store answered a different number of items than asked")
        profile_key, tombstone_key = self._keys
        profile = items[at[profile_key.pk, profile_key.sk]]
        tombstone = items[at[tombstone_key.pk, tombstone_key.sk]]
        # Creating or syncing the profile writes, unchecked. Set and reset by hand, not
        # with ``checking``: this runs on every authenticated request, and even a small
        # context manager object costs more than the two calls.
        unchecked = _ACTIVE.set(None)
        try:
            # Inside: a profile that does not parse fails the check like any error here.
            existing = None if profile is None else user_from_item(profile)
            user = await self._profiles.admit(
                self.principal,
                existing,
                deleted=tombstone is not None,
            )
        except BaseException as error:
            if isinstance(error, DomainError):
                self.refusal = error
                self._refused(error)
            else:
                self._outcome = None
            _settle(outcome, error)
            raise
        finally:
            _ACTIVE.reset(unchecked)
        outcome.set_result(user)
        self._admitted(user)
        answer = list(items[: len(keys)])
        asked_profile = at[profile_key.pk, profile_key.sk]
        if asked_profile < len(keys) and user is not existing:
            # The caller reads the viewer's profile: as admitted (created, or synced). When
            # admitting changed nothing, the item read is that profile already.
            answer[asked_profile] = profile_item(user)
        return answer


def _settle(outcome: asyncio.Future[User], error: BaseException) -> None:
    if isinstance(error, asyncio.CancelledError):
        outcome.cancel()
        return
    outcome.set_exception(error)
    outcome.exception()  # retrieved: a check nobody else waited on logs nothing


class SessionChecks:
    """Begins each HTTP request's check; built once by the composition root together with
    the store decorator that applies it (without that decorator, nothing would)."""

    def __init__(self, profiles: UserProfiles, read: Read) -> None:
        self._profiles = profiles
        self._read = read

    def begin(
        self,
        principal: Principal,
        *,
        admitted: Callable[[User], None],
        refused: Callable[[DomainError], None],
    ) -> SessionCheck:
        return SessionCheck(
            principal, self._profiles, self._read, admitted=admitted, refused=refused
        )
