"""The development identity provider: local sign-up and sign-in issuing Cognito-shaped
RS256 tokens, so local mode exercises exactly the verifier that production uses.

Rules (chosen to be a safe subset of what a Cognito pool accepts):
- username: 3-64 characters, ASCII letters, digits, ``.``, ``_``, ``-``, starting with a
  letter or digit; unique case-insensitively, kept as typed;
- password: 8-256 characters, not only whitespace;
- email: optional, at most 254 characters, ``local@domain.tld`` shape;
- group name: 1-128 characters, same alphabet as usernames.

Credentials live in the ItemStore as one item per user, ``IDP#<username lowercased>`` /
``CREDENTIALS``. The signing key is an RSA private key in a PEM file (mode 0600) under the
data directory, created on first use so tokens stay valid across restarts.
"""

import asyncio
import logging
import re
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
from domain.ports import Absent, Item, ItemStore, Key, Put, VersionIs

logger = logging.getLogger(__name__)

# What Cognito puts in access tokens issued by a username/password sign-in.
ACCESS_TOKEN_SCOPE = "aws.cognito.signin.user.admin"  # noqa: S105 - a scope, not a secret
BAD_CREDENTIALS = "Incorrect username or password"

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
        clock: Callable[[], float] = time.time,
        hasher: ScryptHasher | None = None,
    ) -> None:
        if token_ttl_seconds <= 0:
            raise ValueError("token_ttl_seconds must be positive")
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
        item: Item | None = None
        if _valid_username(username):
            item = await self._get(username)
        stored = item.get("password_hash") if item is not None else None
        candidate = password if isinstance(password, str) else ""
        ok = await asyncio.to_thread(
            self._hasher.verify, candidate, stored if isinstance(stored, str) else None
        )
        if not ok or item is None or not isinstance(password, str):
            logger.info("dev IdP: failed sign-in")
            raise UnauthenticatedError(BAD_CREDENTIALS)
        return await self._issue(item)

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

    async def _issue(self, item: Item) -> TokenSet:
        await self.ensure_key()
        now = int(self._clock())
        username, sub = item["username"], item["user_id"]
        groups = _stored_groups(item)
        common: dict[str, Any] = {
            "iss": self._issuer,
            "sub": sub,
            "auth_time": now,
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
