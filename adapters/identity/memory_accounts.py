"""The fake IdentityAccounts: remembers who was signed out and who was deleted."""


class InMemoryIdentityAccounts:
    def __init__(self) -> None:
        self.signed_out: list[str] = []
        self.deleted: list[str] = []

    async def sign_out_everywhere(self, username: str) -> None:
        self.signed_out.append(username)

    async def delete_identity(self, username: str) -> None:
        if username not in self.deleted:
            self.deleted.append(username)
