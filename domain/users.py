"""User profiles: the only code that knows how users are keyed in the ItemStore.

A profile is created from the token's claims on the user's first authenticated request;
the identity provider stays the source of truth for username, email and groups.
"""

from collections.abc import Sequence
from dataclasses import replace

from domain.access import may_update_profile
from domain.clock import Clock, from_iso, to_iso
from domain.errors import (
    ConflictError,
    ContendedError,
    ForbiddenError,
    InvalidInputError,
    InvalidTokenError,
    NotFoundError,
)
from domain.models import Principal, User
from domain.ports import Absent, Item, ItemStore, Key, Put, VersionIs
from domain.retries import LOST_RACE, LostRace, retry_lost_races
from domain.search.documents import USER, Document, user_document
from domain.search.indexer import SearchIndexer

DISPLAY_NAME_MAX_CHARS = 100
_SAVE_ATTEMPTS = 3


def profile_key(user_id: str) -> Key:
    return Key(f"USER#{user_id}", "PROFILE")


def tombstone_key(user_id: str) -> Key:
    """Present from the moment an account's deletion starts, and kept after it ends: the
    account's tokens stay refused however long they would otherwise live."""
    return Key(f"USER#{user_id}", "TOMBSTONE")


def session_keys(user_id: str) -> list[Key]:
    """What the sign-out check reads: the profile (it carries the mark) and the tombstone."""
    return [profile_key(user_id), tombstone_key(user_id)]


def username_key(username: str) -> Key:
    # Usernames are unique case-insensitively, as in Cognito pools with that option on.
    return Key(f"USERNAME#{username.casefold()}", "USERNAME")


def profile_item(user: User) -> Item:
    key = profile_key(user.id)
    return {
        "pk": key.pk,
        "sk": key.sk,
        "type": "User",
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "groups": list(user.groups),
        "created_at": to_iso(user.created_at),
        "updated_at": to_iso(user.updated_at),
        "version": user.version,
        "signed_out_at": user.signed_out_at,
    }


def user_from_item(item: Item) -> User:
    return User(
        id=item["id"],
        username=item["username"],
        display_name=item.get("display_name"),
        email=item.get("email"),
        groups=tuple(item.get("groups") or ()),
        created_at=from_iso(item["created_at"]),
        updated_at=from_iso(item["updated_at"]),
        version=item["version"],
        signed_out_at=item.get("signed_out_at"),
    )


class UserRepository:
    def __init__(self, store: ItemStore) -> None:
        self._store = store
        self._indexer = SearchIndexer(store)

    async def get_many(self, user_ids: Sequence[str]) -> list[User | None]:
        items = await self._store.get_many([profile_key(user_id) for user_id in user_ids])
        return [user_from_item(item) if item is not None else None for item in items]

    async def get(self, user_id: str) -> User | None:
        [user] = await self.get_many([user_id])
        return user

    async def get_for_session(self, user_id: str) -> tuple[User | None, bool]:
        """The profile and whether the account is deleted (or being deleted): one batched
        read of ``session_keys``."""
        profile, tombstone = await self._store.get_many(session_keys(user_id))
        return (None if profile is None else user_from_item(profile)), tombstone is not None

    async def id_for_username(self, username: str) -> str | None:
        [item] = await self._store.get_many([username_key(username)])
        return None if item is None else str(item["user_id"])

    async def create(self, user: User) -> None:
        """Profile and username claim in one atomic write; ConflictError if either exists."""
        name_key = username_key(user.username)
        claim = {"pk": name_key.pk, "sk": name_key.sk, "type": "Username", "user_id": user.id}
        await self._store.write(
            [Put(profile_item(user), condition=Absent()), Put(claim, condition=Absent())]
        )
        await self.index_for_search(user.id)

    async def replace(self, user: User) -> User:
        """Store ``user`` as the next version; ConflictError if someone saved in between."""
        saved = replace(user, version=user.version + 1)
        await self._store.write([Put(profile_item(saved), condition=VersionIs(user.version))])
        # Read-your-writes for search (a no-op unless username or displayName changed).
        await self.index_for_search(saved.id)
        return saved

    async def index_for_search(self, user_id: str) -> None:
        async def load() -> Document | None:
            return user_document(await self.get(user_id))

        await self._indexer.sync(USER, user_id, load)


class UserProfiles:
    """Use cases on profiles. Every authenticated request reads the caller's profile and
    tombstone once and admits the caller by them (``admit``): the profile carries the
    sign-out mark, so revocation takes effect on the next request in every process. Over
    HTTP that read rides on the request's first batched read (resolvers/session_check.py);
    elsewhere ``ensure_profile`` makes it."""

    def __init__(self, repository: UserRepository, clock: Clock) -> None:
        self._users = repository
        self._clock = clock

    async def ensure_profile(self, principal: Principal) -> User:
        """The caller's profile, created or synced from the token's claims. InvalidTokenError
        when the account is deleted or the token's session began before a sign-out."""
        existing, deleted = await self._users.get_for_session(principal.user_id)
        return await self.admit(principal, existing, deleted)

    async def admit(self, principal: Principal, existing: User | None, deleted: bool) -> User:
        """``ensure_profile`` after its read (``session_keys``), for a caller that made it."""
        if deleted:
            raise InvalidTokenError
        if existing is None:
            return await self._create_from_token(principal)
        if is_signed_out(existing, principal):
            raise InvalidTokenError
        return await self._sync_claims(existing, principal)

    async def sign_out_everywhere(self, principal: Principal) -> User:
        """Void every session of the caller begun until now (this one included)."""
        for _ in range(_SAVE_ATTEMPTS):
            user = await self._users.get(principal.user_id)
            if user is None:
                raise NotFoundError("User not found")
            now = int(self._clock().timestamp())
            try:
                return await self._users.replace(
                    replace(user, signed_out_at=now, updated_at=self._clock())
                )
            except ConflictError:
                continue
        raise ConflictError("The profile is being changed by another request; try again")

    async def _create_from_token(self, principal: Principal) -> User:
        now = self._clock()
        user = User(
            id=principal.user_id,
            username=principal.username,
            display_name=None,
            email=principal.email,
            groups=principal.groups,
            created_at=now,
            updated_at=now,
        )
        try:
            await self._users.create(user)
        except (ConflictError, ContendedError) as lost:
            # First requests raced (a folder uploaded at sign-up sends dozens at once): fine
            # if another one created this very profile.
            raced = await self._users.get(principal.user_id)
            if raced is not None:
                return raced
            if isinstance(lost, ContendedError):
                raise
            raise ConflictError("This username already belongs to another account") from None
        return user

    async def _sync_claims(self, user: User, principal: Principal) -> User:
        # Access tokens carry no email: keep the stored one rather than erase it.
        email = principal.email if principal.from_id_token else user.email
        if (user.email, user.groups) == (email, principal.groups):
            return user
        try:
            return await self._users.replace(
                replace(user, email=email, groups=principal.groups, updated_at=self._clock())
            )
        except ConflictError:
            return user  # a concurrent request synced it; the next request re-checks

    async def update_profile(
        self, viewer: Principal, user_id: str, display_name: str | None
    ) -> User:
        cleaned = clean_display_name(display_name)

        async def attempt(_: int) -> User | LostRace:
            user = await self._users.get(user_id)
            if user is None:
                raise NotFoundError("User not found")
            if not may_update_profile(viewer, user):
                raise ForbiddenError("You may only change your own profile")
            if user.display_name == cleaned:
                return user
            changed = replace(user, display_name=cleaned, updated_at=self._clock())
            try:
                return await self._users.replace(changed)
            except ConflictError:
                return LOST_RACE

        return await retry_lost_races(
            attempt,
            attempts=_SAVE_ATTEMPTS,
            give_up=lambda: ConflictError(
                "The profile is being changed by another request; try again"
            ),
        )


def is_signed_out(user: User, principal: Principal) -> bool:
    """Whether the token's session began at or before the user's last sign-out. Whole
    seconds on both sides: a sign-in in the very second of a sign-out is void too."""
    if user.signed_out_at is None:
        return False
    return principal.auth_time is None or principal.auth_time <= user.signed_out_at


def clean_display_name(display_name: str | None) -> str | None:
    """None clears the name; otherwise 1..100 printable characters after trimming."""
    if display_name is None:
        return None
    cleaned = " ".join(display_name.split())
    if not cleaned:
        raise InvalidInputError("displayName must not be blank; pass null to clear it")
    if len(cleaned) > DISPLAY_NAME_MAX_CHARS:
        raise InvalidInputError(f"displayName must be at most {DISPLAY_NAME_MAX_CHARS} characters")
    if not cleaned.isprintable():
        raise InvalidInputError("displayName must not contain control characters")
    return cleaned
