"""DataLoaders, one per access path, named <Entity>By<Key>; they batch into ItemStore.get_many."""

from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from domain.models import User
from domain.ports import MAX_BATCH_GET

if TYPE_CHECKING:
    from resolvers.context import Services


class Loaders:
    def __init__(self, services: "Services") -> None:
        self.user_by_id: DataLoader[str, User | None] = DataLoader(
            load_fn=services.users.get_many, max_batch_size=MAX_BATCH_GET
        )
