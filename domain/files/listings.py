"""Rebuild the listing items (items.py: ``LIST#`` partitions) from the metas and shares.

Listing items are derived data, like the search index: backups leave them out, a restore
rebuilds them, and `demobackend reindex` writes any that data from before them lacks.
Idempotent (unconditional puts of items that name a file and nothing else), so it is safe
while the server serves: one written for a file deleted meanwhile names a missing file,
which readers drop.
"""

from domain.files import items as file_items
from domain.ports import MAX_WRITE_ITEMS, ItemStore, Put


async def rebuild_listings(store: ItemStore) -> int:
    """Put the listing items every stored meta and share needs; returns how many."""
    puts: list[Put] = []
    async for page in store.scan():
        for item in page:
            puts += [Put(listing) for listing in file_items.listing_items_of(item)]
    # One op per key in a write (a meta and a share never need the same listing item).
    for start in range(0, len(puts), MAX_WRITE_ITEMS):
        await store.write(puts[start : start + MAX_WRITE_ITEMS])
    return len(puts)
