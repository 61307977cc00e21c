"""The development identity provider: local sign-up and sign-in issuing Cognito-shaped
RS256 tokens, so local mode exercises exactly the verifier that production uses.

Rules (chosen to be a safe subset of what a Cognito pool accepts):
- username: 3-64 characters, ASCII letters, digits, ``.``, ``_``, ``-``, starting with a
  letter or digit; unique case-insensitively, kept as typed;
- password: 8-256 characters, not only whitespace;
- email: optional, at most 254 characters, ``local@domain.tld`` shape;
- group name: 1-128 characters, same alphabet as usernames.

Credentials live in the ItemStore as one item per user, ``IDP#<username lowercased>`` /
``CREDENTIALS``.

Refresh tokens are opaque (256 random bits), stored only as their SHA-256
(``IDPRT#<hash>`` / ``REFRESH``), and belong to a family started by one sign-in
(``IDPRF#<family id>`` / ``FAMILY``) that expires as a whole. Each use rotates: the token
is marked used and a new one issued. Presenting a used token again means it leaked, so the
whole family is revoked (OAuth 2.1 / RFC 6819 reuse detection). Sign-out and password
change bump ``refresh_epoch`` on the credentials, voiding every family begun before.

The signing key is an RSA private key in a PEM file (mode 0600) under the data directory,
created on first use so tokens stay valid across restarts.
"""

import asyncio
import hashlib
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jose import jws

from adapters.identity.keys import (
    ALGORITHM,
    RsaKeyError,
    RsaSigningKey,
    new_private_key_pem,
    signing_key_from_pem,
)
from adapters.identity.passwords import ScryptHasher, unusable_password
from adapters.private_files import PrivateFileError, load_or_create_private_file
from domain.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    UnauthenticatedError,
)
from domain.ports import (
    Absent,
    Check,
    Delete,
    IdentityUser,
    Item,
    ItemStore,
    Key,
    Put,
    VersionIs,
)

logger = logging.getLogger(__name__)

# What Cognito puts in access tokens issued by a username/password sign-in.
ACCESS_TOKEN_SCOPE = "aws.cognito.signin.user.admin"  # noqa: S105 - a scope, not a secret
BAD_CREDENTIALS = "Incorrect username or password"
BAD_REFRESH_TOKEN = "Refresh token is not valid"  # noqa: S105 - a message, not a secret
REFRESH_TOKEN_BYTES = 32
REFRESH_TOKEN_MAX_CHARS = 128

USERNAME_MIN, USERNAME_MAX = 3, 64
PASSWORD_MIN, PASSWORD_MAX = 8, 256
EMAIL_MAX = 254
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_CREDENTIALS_SK = "CREDENTIALS"
_WRITE_ATTEMPTS = 5


class DevIdpKeyError(Exception):
    """The signing key file exists but cannot be used; the message names the file."""


@dataclass(frozen=True, slots=True)
class TokenSet:
    id_token: str
    access_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - a token type name, not a secret
    refresh_token: str | None = None


@dataclass(frozen=True, slots=True)
class RegisteredUser:
    username: str
    user_id: str


class DevIdentityProvider:
    def __init__(
        self,
        store: ItemStore,
        key_path: Path,
        issuer: str,
        client_id: str,
        *,
        token_ttl_seconds: int = 3600,
        refresh_ttl_seconds: int = 30 * 86_400,
        clock: Callable[[], float] = time.time,
        hasher: ScryptHasher | None = None,
    ) -> None:
        if token_ttl_seconds <= 0 or refresh_ttl_seconds <= 0:
            raise ValueError("token lifetimes must be positive")
        self._refresh_ttl = refresh_ttl_seconds
        self._store = store
        self._key_path = Path(key_path)
        self._issuer = issuer
        self._client_id = client_id
        self._ttl = token_ttl_seconds
        self._clock = clock
        self._hasher = hasher or ScryptHasher()
        self._signing_key: RsaSigningKey | None = None
        # Loading may run in worker threads; two of them must not both generate a key.
        self._key_lock = threading.Lock()

    @property
    def issuer(self) -> str:
        return self._issuer

    @property
    def client_id(self) -> str:
        return self._client_id

    # --- signing key -------------------------------------------------------------------

    def load_or_create_key(self) -> None:
        """Load the signing key, generating and saving it first if the file is missing.
        Idempotent; blocking (file I/O, maybe RSA key generation). Raises DevIdpKeyError
        when the file exists but is unusable (it is never silently replaced: that would
        invalidate every token already handed out)."""
        with self._key_lock:
            if self._signing_key is None:
                self._signing_key = _load_or_create_signing_key(self._key_path)

    async def ensure_key(self) -> None:
        """load_or_create_key without blocking the event loop."""
        if self._signing_key is None:
            await asyncio.to_thread(self.load_or_create_key)

    @property
    def kid(self) -> str:
        return self._key().kid

    def jwks(self) -> dict[str, Any]:
        """The public key set verifiers need; never holds private members. Blocks on the
        first call unless ensure_key/load_or_create_key ran."""
        return {"keys": [dict(self._key().public_jwk)]}

    def _key(self) -> RsaSigningKey:
        if self._signing_key is None:
            self.load_or_create_key()
        assert self._signing_key is not None
        return self._signing_key

    # --- accounts ----------------------------------------------------------------------

    async def signup(
        self, username: str, password: str, email: str | None = None
    ) -> RegisteredUser:
        """Create a user. Raises InvalidInputError for a bad username, password or email,
        ConflictError when the username is taken (in any letter case)."""
        _check_username(username)
        _check_password(password)
        _check_email(email)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        item = self._new_item(username, password_hash, email, [])
        try:
            # The condition makes "is the name free?" and "take it" one atomic step.
            await self._store.write([Put(item, condition=Absent())])
        except ConflictError:
            raise ConflictError("Username already exists") from None
        logger.info("dev IdP: user %s signed up", username)
        return RegisteredUser(username=username, user_id=item["user_id"])

    async def authenticate(self, username: str, password: str) -> TokenSet:
        """Tokens for a correct username and password; otherwise UnauthenticatedError,
        identical (message and work done) whether the user exists or not."""
        try:
            item = await self._verified(username, password)
        except UnauthenticatedError:
            logger.info("dev IdP: failed sign-in")
            raise
        tokens = await self._issue(item)
        refresh_token = await self._start_family(item, int(self._clock()))
        return _with_refresh(tokens, refresh_token)

    async def _verified(self, username: str, password: str) -> Item:
        item = await self._get(username) if _valid_username(username) else None
        stored = item.get("password_hash") if item is not None else None
        candidate = password if isinstance(password, str) else ""
        ok = await asyncio.to_thread(
            self._hasher.verify, candidate, stored if isinstance(stored, str) else None
        )
        if not ok or item is None:
            raise UnauthenticatedError(BAD_CREDENTIALS)
        return item

    # --- refresh tokens ----------------------------------------------------------------

    async def refresh(self, refresh_token: str) -> TokenSet:
        """Fresh ID and access tokens plus the next refresh token of the family. Every
        failure (unknown, forged, expired, revoked, reused) is UnauthenticatedError with one
        message; a reused token also revokes its family."""
        if not isinstance(refresh_token, str) or not 0 < len(refresh_token) <= (
            REFRESH_TOKEN_MAX_CHARS
        ):
            raise UnauthenticatedError(BAD_REFRESH_TOKEN)
        token_key = _refresh_key(refresh_token)
        (token,) = await self._store.get_many([token_key])
        if token is None:
            raise UnauthenticatedError(BAD_REFRESH_TOKEN)
        family_key = _family_key(token["family"])
        family, credentials = await self._store.get_many(
            [family_key, _credentials_key(token["username"])]
        )
        now = int(self._clock())
        if not _family_usable(family, credentials, now):
            raise UnauthenticatedError(BAD_REFRESH_TOKEN)
        assert family is not None and credentials is not None
        if token.get("used"):
            await self._revoke_family(family_key)
            logger.warning("dev IdP: a used refresh token was presented; family revoked")
            raise UnauthenticatedError(BAD_REFRESH_TOKEN)
        next_token, next_item = self._refresh_item(family, now)
        try:
            await self._store.write(
                [
                    Put(
                        {**token, "used": True, "version": token["version"] + 1},
                        condition=VersionIs(token["version"]),
                    ),
                    Put(next_item, condition=Absent()),
                    Check(family_key, VersionIs(family["version"])),
                ]
            )
        except ConflictError:
            # Another request used this token (or revoked the family) first: a token used
            # twice is a token used twice, whoever was first.
            await self._revoke_family(family_key)
            raise UnauthenticatedError(BAD_REFRESH_TOKEN) from None
        tokens = await self._issue(credentials, auth_time=int(family["auth_time"]))
        return _with_refresh(tokens, next_token)

    async def _start_family(self, credentials: Item, auth_time: int) -> str:
        key = _family_key(secrets.token_hex(16))
        family = {
            "pk": key.pk,
            "sk": key.sk,
            "family": key.pk.removeprefix("IDPRF#"),
            "username": credentials["username"],
            "user_id": credentials["user_id"],
            "epoch": credentials.get("refresh_epoch", 0),
            "auth_time": auth_time,
            "revoked": False,
            "expires_at": auth_time + self._refresh_ttl,
            "version": 1,
        }
        token, item = self._refresh_item(family, auth_time)
        await self._store.write([Put(family, condition=Absent()), Put(item, condition=Absent())])
        return token

    def _refresh_item(self, family: Item, now: int) -> tuple[str, Item]:
        token = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
        key = _refresh_key(token)
        item = {
            "pk": key.pk,
            "sk": key.sk,
            "family": family["family"],
            "username": family["username"],
            "used": False,
            "created_at": now,
            # The ItemStore's TTL attribute: the family dies then, and so do its tokens.
            "expires_at": family["expires_at"],
            "version": 1,
        }
        return token, item

    async def _revoke_family(self, key: Key) -> None:
        for _ in range(_WRITE_ATTEMPTS):
            (family,) = await self._store.get_many([key])
            if family is None or family.get("revoked"):
                return
            try:
                revoked = {**family, "revoked": True, "version": family["version"] + 1}
                await self._store.write([Put(revoked, condition=VersionIs(family["version"]))])
                return
            except ConflictError:
                continue
        raise ConflictError("The sign-in kept changing; try again")

    async def sign_out_everywhere(self, username: str) -> None:
        """Void every refresh token of the user (every family begun until now)."""
        await self._update_credentials(username, lambda item: {})

    async def change_password(self, username: str, old_password: str, new_password: str) -> None:
        """Replace the password after checking the old one (UnauthenticatedError, as a failed
        sign-in) and the new one's rules (InvalidInputError); revokes every refresh token."""
        item = await self._verified(username, old_password)
        _check_password(new_password)
        new_hash = await asyncio.to_thread(self._hasher.hash, new_password)
        await self._update_credentials(
            item["username"], lambda current: {"password_hash": new_hash}, expect=item
        )
        logger.info("dev IdP: user %s changed their password", item["username"])

    async def delete_identity(self, username: str) -> None:
        """Remove the user's credentials: no sign-in, no refresh. Idempotent."""
        await self._store.write([Delete(_credentials_key(username))])

    async def find_users_by_username(self, username: str) -> list[IdentityUser]:
        """The user named exactly ``username``: "Alice" does not find "alice" (the rule a
        restore that maps owners by username needs: a near name is not the same person)."""
        item = await self._get(username) if _valid_username(username) else None
        if item is None or item.get("username") != username:
            return []
        return [IdentityUser(username=str(item["username"]), user_id=str(item["user_id"]))]

    async def _update_credentials(
        self,
        username: str,
        change: Callable[[Item], dict[str, Any]],
        expect: Item | None = None,
    ) -> None:
        for _ in range(_WRITE_ATTEMPTS):
            item = expect or await self._get(username)
            expect = None
            if item is None:
                return
            version = item.get("version", 1)
            updated = {
                **item,
                **change(item),
                "refresh_epoch": item.get("refresh_epoch", 0) + 1,
                "version": version + 1,
            }
            try:
                await self._store.write([Put(updated, condition=VersionIs(version))])
                return
            except ConflictError:
                continue
        raise ConflictError("The user kept changing; try again")

    async def issue_tokens_for(
        self, username: str, groups: Sequence[str] = (), create_if_missing: bool = True
    ) -> TokenSet:
        """Tokens without a password, for the ``demobackend token`` command: creates the
        user (with no usable password) if missing and adds ``groups`` to theirs."""
        _check_username(username)
        wanted = _check_groups(groups or ())
        for _ in range(_WRITE_ATTEMPTS):
            item = await self._get(username)
            try:
                if item is None:
                    if not create_if_missing:
                        raise NotFoundError("No such user")
                    item = self._new_item(username, unusable_password(), None, wanted)
                    await self._store.write([Put(item, condition=Absent())])
                else:
                    current = _stored_groups(item)
                    merged = current + [group for group in wanted if group not in current]
                    if merged != current:
                        version = item.get("version", 1)
                        item = {**item, "groups": merged, "version": version + 1}
                        await self._store.write([Put(item, condition=VersionIs(version))])
            except ConflictError:
                continue  # someone else wrote the user between our read and write
            return await self._issue(item)
        raise ConflictError("The user kept changing; try again")

    async def _get(self, username: str) -> Item | None:
        (item,) = await self._store.get_many([_credentials_key(username)])
        return item

    def _new_item(
        self, username: str, password_hash: str, email: str | None, groups: list[str]
    ) -> Item:
        key = _credentials_key(username)
        return {
            "pk": key.pk,
            "sk": key.sk,
            "username": username,
            "user_id": str(uuid.uuid4()),
            "password_hash": password_hash,
            "email": email,
            "groups": groups,
            "created_at": datetime.fromtimestamp(self._clock(), UTC).isoformat(),
            "version": 1,
        }

    # --- tokens ------------------------------------------------------------------------

    async def _issue(self, item: Item, auth_time: int | None = None) -> TokenSet:
        await self.ensure_key()
        now = int(self._clock())
        username, sub = item["username"], item["user_id"]
        groups = _stored_groups(item)
        common: dict[str, Any] = {
            "iss": self._issuer,
            "sub": sub,
            # As in Cognito: the sign-in's time, kept by refreshed tokens.
            "auth_time": now if auth_time is None else auth_time,
            "iat": now,
            "exp": now + self._ttl,
        }
        # Like Cognito, the groups claim is left out for a user in no group.
        if groups:
            common["cognito:groups"] = groups
        id_claims = {
            **common,
            "aud": self._client_id,
            "token_use": "id",
            "cognito:username": username,
            "jti": str(uuid.uuid4()),
        }
        email = item.get("email")
        if isinstance(email, str) and email:
            id_claims["email"] = email
        access_claims = {
            **common,
            "client_id": self._client_id,
            "token_use": "access",
            "username": username,
            "scope": ACCESS_TOKEN_SCOPE,
            "jti": str(uuid.uuid4()),
        }
        # RSA signing costs a millisecond or two each; keep it off the event loop.
        id_token, access_token = await asyncio.to_thread(
            lambda: (self._sign(id_claims), self._sign(access_claims))
        )
        return TokenSet(id_token=id_token, access_token=access_token, expires_in=self._ttl)

    def _sign(self, claims: dict[str, Any]) -> str:
        key = self._key()
        return jws.sign(
            claims, key.key, headers={"kid": key.kid, "typ": "JWT"}, algorithm=ALGORITHM
        )


# --- validation ----------------------------------------------------------------------


def _valid_username(username: object) -> bool:
    return (
        isinstance(username, str)
        and USERNAME_MIN <= len(username) <= USERNAME_MAX
        and _USERNAME.fullmatch(username) is not None
    )


def _check_username(username: object) -> None:
    if not _valid_username(username):
        raise InvalidInputError(
            f"Username must be {USERNAME_MIN} to {USERNAME_MAX} characters long and use only "
            "letters, digits, '.', '_' or '-', starting with a letter or digit"
        )


def _check_password(password: object) -> None:
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInputError(
            f"Password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long"
        )
    if not password.strip():
        raise InvalidInputError("Password must not be only whitespace")


def _check_email(email: object) -> None:
    if email is None:
        return
    if not isinstance(email, str) or len(email) > EMAIL_MAX or not _EMAIL.fullmatch(email):
        raise InvalidInputError("Email address is not valid")


def _check_groups(groups: Sequence[str]) -> list[str]:
    if isinstance(groups, str):
        # A bare string is a sequence of one-letter groups; surely not what was meant.
        raise InvalidInputError("Groups must be a list of names")
    result: list[str] = []
    for group in groups:
        if not isinstance(group, str) or not _GROUP.fullmatch(group):
            raise InvalidInputError(
                "Group names must be 1 to 128 characters: letters, digits, '.', '_' or '-'"
            )
        if group not in result:
            result.append(group)
    return result


def _stored_groups(item: Item) -> list[str]:
    groups = item.get("groups")
    if isinstance(groups, list) and all(isinstance(group, str) for group in groups):
        return list(groups)
    return []


def _with_refresh(tokens: TokenSet, refresh_token: str) -> TokenSet:
    return TokenSet(
        id_token=tokens.id_token,
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=refresh_token,
    )


def _refresh_key(token: str) -> Key:
    # A plain hash is enough: the token holds 256 random bits, nothing to brute-force.
    return Key(f"IDPRT#{hashlib.sha256(token.encode()).hexdigest()}", "REFRESH")


def _family_key(family: str) -> Key:
    return Key(f"IDPRF#{family}", "FAMILY")


def _family_usable(family: Item | None, credentials: Item | None, now: int) -> bool:
    return (
        family is not None
        and credentials is not None
        and not family.get("revoked")
        and now < family["expires_at"]
        # A deleted user whose name was taken again is another user.
        and family["user_id"] == credentials["user_id"]
        # Sign-out and password change bump the epoch: older families are void.
        and family["epoch"] == credentials.get("refresh_epoch", 0)
    )


def _credentials_key(username: str) -> Key:
    # Lowercased, so "Alice" and "alice" compete for the same item. The username rule is
    # ASCII-only, so lower() has no locale or Unicode surprises.
    return Key(f"IDP#{username.lower()}", _CREDENTIALS_SK)


# --- key file ------------------------------------------------------------------------


def _load_or_create_signing_key(path: Path) -> RsaSigningKey:
    try:
        loaded = load_or_create_private_file(path, new_private_key_pem)
    except PrivateFileError as exc:
        raise DevIdpKeyError(
            f"Cannot {exc.action} the signing key file {path}: {exc.reason}"
        ) from None
    if loaded.created:
        logger.info("dev IdP: generated a new signing key in %s", path)
    if loaded.readable_by_others:
        logger.warning("dev IdP signing key %s is readable by other users; chmod 600 it", path)
    try:
        return signing_key_from_pem(loaded.content)
    except RsaKeyError:
        raise DevIdpKeyError(
            "The dev IdP signing key file is not an unencrypted PEM RSA private key of at "
            "least 2048 bits; move it away to have a new one generated"
        ) from None
