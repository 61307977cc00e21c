"""The fake IdentityAccounts: remembers who was signed out and who was deleted, and finds
the users a test registered in ``users``."""

from domain.ports import IdentityUser


class InMemoryIdentityAccounts:
    def __init__(self, users: list[IdentityUser] | None = None) -> None:
        self.signed_out: list[str] = []
        self.deleted: list[str] = []
        self.users: list[IdentityUser] = list(users or ())

    async def sign_out_everywhere(self, username: str) -> None:
        self.signed_out.append(username)

    async def delete_identity(self, username: str) -> None:
        if username not in self.deleted:
            self.deleted.append(username)

    async def find_users_by_username(self, username: str) -> list[IdentityUser]:
        return [user for user in self.users if user.username == username]
