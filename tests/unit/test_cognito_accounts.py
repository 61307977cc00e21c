"""CognitoAccounts' error translation. moto answers both calls happily (the e2e tier runs
them for real); what it does not do is fail, so failures come from a stub client here."""

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from adapters.identity.cognito_accounts import LOOKUP_ATTEMPTS, CognitoAccounts
from domain.errors import StoreUnavailableError
from domain.ports import IdentityUser


class _Client:
    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.users: list[dict[str, Any]] = []

    def admin_user_global_sign_out(self, **kwargs: Any) -> None:
        self._call("admin_user_global_sign_out", kwargs)

    def admin_delete_user(self, **kwargs: Any) -> None:
        self._call("admin_delete_user", kwargs)

    def list_users(self, **kwargs: Any) -> dict[str, Any]:
        self._call("list_users", kwargs)
        return {"Users": self.users}

    def _call(self, name: str, kwargs: dict[str, Any]) -> None:
        self.calls.append((name, kwargs))
        if self.error is not None:
            raise self.error


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "secret driver text"}}, "Admin")


async def test_calls_name_the_pool_and_the_user() -> None:
    client = _Client(None)
    accounts = CognitoAccounts(client, "us-east-1_pool")
    await accounts.sign_out_everywhere("alice")
    await accounts.delete_identity("alice")
    assert client.calls == [
        ("admin_user_global_sign_out", {"UserPoolId": "us-east-1_pool", "Username": "alice"}),
        ("admin_delete_user", {"UserPoolId": "us-east-1_pool", "Username": "alice"}),
    ]


async def test_a_user_already_gone_is_done() -> None:
    accounts = CognitoAccounts(_Client(client_error("UserNotFoundException")), "pool")
    await accounts.delete_identity("alice")
    await accounts.sign_out_everywhere("alice")


@pytest.mark.parametrize(
    "error",
    [
        client_error("AccessDeniedException"),
        client_error("TooManyRequestsException"),
        EndpointConnectionError(endpoint_url="https://cognito-idp.example"),
    ],
    ids=["denied", "throttled", "unreachable"],
)
async def test_other_failures_become_a_domain_error_without_driver_text(error: Exception) -> None:
    accounts = CognitoAccounts(_Client(error), "pool")
    with pytest.raises(StoreUnavailableError) as caught:
        await accounts.delete_identity("alice")
    assert str(caught.value) == "The identity provider is unavailable"


def _user(username: str, sub: str) -> dict[str, Any]:
    return {"Username": username, "Attributes": [{"Name": "sub", "Value": sub}]}


async def test_finding_a_user_filters_on_the_username_and_reads_the_sub() -> None:
    client = _Client(None)
    client.users = [_user("alice", "sub-1")]
    found = await CognitoAccounts(client, "pool").find_users_by_username('al"i\\ce')
    [(name, params)] = client.calls
    assert name == "list_users"
    assert params["Filter"] == 'username = "al\\"i\\\\ce"'
    assert params["UserPoolId"] == "pool" and params["AttributesToGet"] == ["sub"]
    assert found == []  # the hit is not named exactly so
    assert await CognitoAccounts(client, "pool").find_users_by_username("alice") == [
        IdentityUser("alice", "sub-1")
    ]


async def test_a_near_name_or_an_alias_hit_is_not_the_user() -> None:
    """A case-insensitive pool answers "Alice" for "alice"; neither is taken for the other."""
    client = _Client(None)
    client.users = [_user("Alice", "sub-1"), _user("alice-2", "sub-2")]
    assert await CognitoAccounts(client, "pool").find_users_by_username("alice") == []


async def test_a_failing_lookup_is_a_domain_error() -> None:
    accounts = CognitoAccounts(_Client(client_error("AccessDeniedException")), "pool")
    with pytest.raises(StoreUnavailableError):
        await accounts.find_users_by_username("alice")


async def test_a_throttled_lookup_waits_and_tries_again_a_bounded_number_of_times() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = _Client(client_error("TooManyRequestsException"))
    accounts = CognitoAccounts(client, "pool", sleep=sleep)
    with pytest.raises(StoreUnavailableError):
        await accounts.find_users_by_username("alice")
    assert len(client.calls) == LOOKUP_ATTEMPTS
    assert waits == [0.25, 0.5, 1.0, 2.0]

    class _ThrottledTwice(_Client):
        def _call(self, name: str, kwargs: dict[str, Any]) -> None:
            self.error = client_error("TooManyRequestsException") if len(self.calls) < 2 else None
            super()._call(name, kwargs)

    waits.clear()
    client = _ThrottledTwice(None)
    client.users = [_user("alice", "sub-1")]
    accounts = CognitoAccounts(client, "pool", sleep=sleep)
    assert await accounts.find_users_by_username("alice") == [IdentityUser("alice", "sub-1")]
    assert waits == [0.25, 0.5] and len(client.calls) == 3
