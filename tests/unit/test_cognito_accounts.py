"""CognitoAccounts' error translation. moto answers both calls happily (the e2e tier runs
them for real); what it does not do is fail, so failures come from a stub client here."""

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from adapters.identity.cognito_accounts import CognitoAccounts
from domain.errors import StoreUnavailableError


class _Client:
    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def admin_user_global_sign_out(self, **kwargs: Any) -> None:
        self._call("admin_user_global_sign_out", kwargs)

    def admin_delete_user(self, **kwargs: Any) -> None:
        self._call("admin_delete_user", kwargs)

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
