"""Rebuild the listing items (items.py: ``LIST#`` partitions) from the metas and shares.

Listing items are derived data, like the search index: backups leave them out, a restore
writes them with each part (listing_items_of), and `demobackend reindex` writes any that
data from before them lacks. It writes only missing ones, so it is safe while the server
serves: one the use cases wrote meanwhile (a completed upload's, without the TTL its
PENDING meta carried when scanned) is never replaced by an older copy, and one written for
a file deleted meanwhile names a missing file, which readers drop.
"""

from domain.files import items as file_items
from domain.ports import MAX_WRITE_ITEMS, ItemStore, Key, Put


async def rebuild_listings(store: ItemStore) -> int:
    """Put the listing items stored metas and shares lack; returns how many."""
    written = 0
    async for page in store.scan():
        wanted = [listing for item in page for listing in file_items.listing_items_of(item)]
        for start in range(0, len(wanted), MAX_WRITE_ITEMS):
            chunk = wanted[start : start + MAX_WRITE_ITEMS]
            stored = await store.get_many([Key(item["pk"], item["sk"]) for item in chunk])
            # One op per key in a write (a meta and a share never need the same item).
            missing = [Put(item) for item, found in zip(chunk, stored, strict=True) if not found]
            if missing:
                await store.write(missing)
                written += len(missing)
    return written
