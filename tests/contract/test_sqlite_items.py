"""What only the SQLite adapter promises: a durable file, safe concurrency, clean failures."""

import asyncio
import json
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.items.sqlite import SqliteItemStore
from domain.errors import ConflictError, StoreUnavailableError
from domain.ports import Item, Key, Put, VersionIs, WriteOp


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "nested" / "items.sqlite3"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteItemStore]:
    opened = SqliteItemStore(db_path)
    yield opened
    await opened.close()


def item(pk: str, sk: str, **attributes: object) -> Item:
    return {"pk": pk, "sk": sk, **attributes}


async def test_data_survives_closing_and_reopening(db_path: Path) -> None:
    first = SqliteItemStore(db_path)
    await first.write([Put(item("A", "1", n=2**70, gsi2pk="G", gsi2sk="x", tags=["t"]))])
    await first.close()

    second = SqliteItemStore(db_path)
    try:
        assert await second.get_many([Key("A", "1")]) == [
            item("A", "1", n=2**70, gsi2pk="G", gsi2sk="x", tags=["t"])
        ]
        assert len((await second.query("G", index="gsi2")).items) == 1
    finally:
        await second.close()


async def test_the_file_is_in_wal_mode(store: SqliteItemStore, db_path: Path) -> None:
    await store.ping()
    with sqlite3.connect(db_path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    connection.close()


async def test_concurrent_version_updates_let_exactly_one_win(store: SqliteItemStore) -> None:
    await store.write([Put(item("F", "1", version=1, winner=None))])

    async def update(writer: int) -> None:
        await store.write([Put(item("F", "1", version=2, winner=writer), VersionIs(1))])

    results = await asyncio.gather(
        *(update(writer) for writer in range(50)), return_exceptions=True
    )

    winners = [writer for writer, result in enumerate(results) if result is None]
    assert len(winners) == 1
    assert all(isinstance(result, ConflictError) for result in results if result is not None)
    assert await store.get_many([Key("F", "1")]) == [item("F", "1", version=2, winner=winners[0])]


async def test_reads_run_cleanly_while_writes_are_in_flight(store: SqliteItemStore) -> None:
    await store.write([Put(item("C", "0", n=0, gsi1pk="G", gsi1sk="0"))])

    async def writer(n: int) -> None:
        await store.write([Put(item("C", f"{n}", n=n, gsi1pk="G", gsi1sk=f"{n:03}"))])

    async def reader() -> int:
        page = await store.query("G", index="gsi1", limit=1000)
        [first] = await store.get_many([Key("C", "0")])
        scanned = [entry async for page_ in store.scan(page_size=7) for entry in page_]
        assert first == item("C", "0", n=0, gsi1pk="G", gsi1sk="0")
        assert len(scanned) >= len(page.items) >= 1
        return len(page.items)

    tasks = [writer(n) for n in range(1, 101)] + [reader() for _ in range(100)]
    results = await asyncio.gather(*tasks)

    assert all(isinstance(count, int) and 1 <= count <= 101 for count in results[100:])
    assert len((await store.query("G", index="gsi1", limit=1000)).items) == 101


async def test_reads_see_committed_data_while_another_process_holds_the_write_lock(
    store: SqliteItemStore, db_path: Path
) -> None:
    await store.write([Put(item("A", "1", n=1))])
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE items SET data = ? WHERE pk = 'A'", (json.dumps(item("A", "1")),))

        assert await asyncio.wait_for(store.get_many([Key("A", "1")]), 2) == [item("A", "1", n=1)]
    finally:
        other.close()


async def test_a_write_waiting_for_the_file_lock_does_not_block_the_event_loop(
    store: SqliteItemStore, db_path: Path
) -> None:
    await store.ping()
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        write = asyncio.create_task(store.write([Put(item("A", "1"))]))
        # If the write held the loop while it waits for the lock, this sleep could not
        # finish and the lock below would never be released in time.
        await asyncio.sleep(0.2)
        assert not write.done()
        other.execute("COMMIT")
        await asyncio.wait_for(write, 4)
    finally:
        other.close()
    assert await store.get_many([Key("A", "1")]) == [item("A", "1")]


async def test_a_write_queued_behind_another_process_checks_its_condition_afresh(
    store: SqliteItemStore, db_path: Path
) -> None:
    await store.write([Put(item("F", "1", version=1))])
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        moved_on = json.dumps(item("F", "1", version=2, by="other process"))
        other.execute("UPDATE items SET data = ? WHERE pk = 'F'", (moved_on,))
        write = asyncio.create_task(
            store.write([Put(item("F", "1", version=2, by="us"), VersionIs(1))])
        )
        await asyncio.sleep(0.2)
        other.execute("COMMIT")
        # The condition must be judged after the other commit, not on what was read before.
        with pytest.raises(ConflictError):
            await asyncio.wait_for(write, 4)
    finally:
        other.close()
    assert await store.get_many([Key("F", "1")]) == [item("F", "1", version=2, by="other process")]


async def test_a_lock_held_too_long_is_reported_as_unavailable_then_recovers(
    db_path: Path,
) -> None:
    store = SqliteItemStore(db_path, busy_timeout=0.1)
    try:
        await store.ping()
        other = sqlite3.connect(db_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreUnavailableError) as caught:
                await store.write([Put(item("A", "1"))])
            assert isinstance(caught.value.__cause__, sqlite3.Error)
        finally:
            other.close()
        await store.write([Put(item("A", "1"))])
        assert await store.get_many([Key("A", "1")]) == [item("A", "1")]
    finally:
        await store.close()


def assert_unavailable_without_details(error: StoreUnavailableError, path: Path) -> None:
    message = str(error)
    assert str(path.parent) not in message and path.name not in message
    assert "sqlite" not in message.lower() and "SELECT" not in message
    assert isinstance(error.__cause__, sqlite3.Error | OSError)


def directory_path(tmp_path: Path) -> Path:
    path = tmp_path / "is-a-directory.sqlite3"
    path.mkdir()
    return path


def garbage_file(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(b"this is not a database, just bytes " * 200)
    return path


def under_a_file(tmp_path: Path) -> Path:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    return blocker / "items.sqlite3"


@pytest.mark.parametrize("make_path", [directory_path, garbage_file, under_a_file])
async def test_an_unusable_file_is_reported_as_unavailable(tmp_path: Path, make_path) -> None:
    path = make_path(tmp_path)
    store = SqliteItemStore(path)
    try:
        calls = [
            store.ping(),
            store.get_many([Key("A", "1")]),
            store.query("A"),
            store.write([Put(item("A", "1"))]),
        ]
        for call in calls:
            with pytest.raises(StoreUnavailableError) as caught:
                await call
            assert_unavailable_without_details(caught.value, path)
        with pytest.raises(StoreUnavailableError):
            async for _ in store.scan():
                pass
    finally:
        await store.close()


async def test_a_closed_store_refuses_calls(db_path: Path) -> None:
    store = SqliteItemStore(db_path)
    await store.write([Put(item("A", "1"))])
    await store.close()
    await store.close()  # closing twice is harmless

    with pytest.raises(StoreUnavailableError):
        await store.get_many([Key("A", "1")])
    with pytest.raises(StoreUnavailableError):
        await store.write([Put(item("A", "2"))])


async def test_the_constructor_touches_nothing_until_first_use(db_path: Path) -> None:
    store = SqliteItemStore(db_path)
    try:
        assert not await asyncio.to_thread(db_path.parent.exists)
        await store.ping()
        assert await asyncio.to_thread(db_path.exists)
    finally:
        await store.close()


async def test_a_file_from_before_an_index_existed_is_upgraded(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    stored = [
        item("F", "1", gsi1pk="O", gsi1sk="1", gsi2pk="T", gsi2sk="b"),
        item("F", "2", gsi2pk="T", gsi2sk="a"),
        item("F", "3", gsi2pk="T"),
    ]
    with sqlite3.connect(db_path) as old:
        old.execute(
            "CREATE TABLE items (pk TEXT NOT NULL, sk TEXT NOT NULL, gsi1pk TEXT, gsi1sk TEXT, "
            "data TEXT NOT NULL, PRIMARY KEY (pk, sk))"
        )
        old.executemany(
            "INSERT INTO items (pk, sk, gsi1pk, gsi1sk, data) VALUES (?, ?, ?, ?, ?)",
            [
                (
                    entry["pk"],
                    entry["sk"],
                    entry.get("gsi1pk"),
                    entry.get("gsi1sk"),
                    json.dumps(entry),
                )
                for entry in stored
            ],
        )
    old.close()

    store = SqliteItemStore(db_path)
    try:
        by_tag = await store.query("T", index="gsi2")
        by_owner = await store.query("O", index="gsi1")
        await store.write([Put(item("F", "4", gsi2pk="T", gsi2sk="c"))])
        after_write = await store.query("T", index="gsi2")
    finally:
        await store.close()

    assert [entry["sk"] for entry in by_tag.items] == ["2", "1"]
    assert [entry["sk"] for entry in by_owner.items] == ["1"]
    assert [entry["sk"] for entry in after_write.items] == ["2", "1", "4"]


def _busy_error(db_path: Path) -> sqlite3.OperationalError:
    """A real "database is locked" from SQLite: a second writer that may not wait."""
    holder = sqlite3.connect(db_path, isolation_level=None)
    other = sqlite3.connect(db_path, isolation_level=None, timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as caught:
            other.execute("BEGIN IMMEDIATE")
        return caught.value
    finally:
        holder.close()
        other.close()


async def test_a_small_read_that_sqlite_finds_busy_is_retried_on_a_reader_thread(
    store: SqliteItemStore, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small reads run on the event loop's connection, which must never wait for a lock;
    # SQLite answering "busy" there sends the read to a reader thread, which may wait.
    await store.write([Put(item("A", "1", n=1))])
    busy = _busy_error(db_path)
    assert busy.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
    loop_thread = threading.get_ident()
    threads: list[int] = []
    real_get_many = store._get_many

    def busy_on_the_loop(keys: list[Key], connection: sqlite3.Connection) -> list[Item | None]:
        threads.append(threading.get_ident())
        if threading.get_ident() == loop_thread:
            raise busy
        return real_get_many(keys, connection)

    monkeypatch.setattr(store, "_get_many", busy_on_the_loop)
    assert await store.get_many([Key("A", "1")]) == [item("A", "1", n=1)]
    assert threads[0] == loop_thread and threads[1] != loop_thread and len(threads) == 2


async def test_other_sqlite_errors_on_a_small_read_are_reported_as_unavailable(
    store: SqliteItemStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.ping()

    def broken(keys: list[Key], connection: sqlite3.Connection) -> list[Item | None]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "_get_many", broken)
    with pytest.raises(StoreUnavailableError):
        await store.get_many([Key("A", "1")])


@pytest.mark.parametrize("count", [3, 4, 5, 9])
async def test_a_large_limit_pages_alike_whether_the_answer_is_read_on_the_loop_or_not(
    db_path: Path, count: int
) -> None:
    # inline_items=4: answers of up to 4 items are read on the loop, larger ones on a
    # reader; either way the same items, the same cursors, the same "more follows".
    store = SqliteItemStore(db_path, inline_items=4)
    try:
        await store.write([Put(item("P", f"{n:02}", n=n)) for n in range(count)])
        whole = await store.query("P", limit=100)
        assert [entry["n"] for entry in whole.items] == list(range(count))
        assert whole.cursor is None and len(whole.item_cursors) == count
        first = await store.query("P", limit=2)
        rest = await store.query("P", limit=100, after=first.cursor)
        assert [entry["n"] for entry in first.items + rest.items] == list(range(count))
        assert rest.cursor is None
        assert rest.item_cursors == whole.item_cursors[2:]
    finally:
        await store.close()


async def test_small_writes_commit_on_the_event_loop_and_large_ones_on_the_writer_thread(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A trip to the writer thread comes back through the loop's queue behind every other
    # request: an upload's small writes commit on the loop's own connection instead.
    store = SqliteItemStore(db_path, inline_writes=3)
    loop_thread = threading.get_ident()
    threads: list[int] = []
    real_apply = store._apply

    def recorded(ops: list[WriteOp], connection: sqlite3.Connection) -> None:
        threads.append(threading.get_ident())
        real_apply(ops, connection)

    monkeypatch.setattr(store, "_apply", recorded)
    try:
        await store.write([Put(item("S", str(n))) for n in range(3)])
        await store.write([Put(item("L", str(n))) for n in range(4)])
        assert threads[0] == loop_thread and threads[1] != loop_thread
        assert len((await store.query("S")).items) == 3
        assert len((await store.query("L")).items) == 4
    finally:
        await store.close()


async def test_checkpoints_run_on_the_writer_thread_and_keep_the_wal_small(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loop's connection never checkpoints (a checkpoint fsyncs); the writer thread
    # does, every checkpoint_every writes, and the WAL starts again from its beginning.
    import adapters.items.sqlite as sqlite_module

    loop_thread = threading.get_ident()
    checkpoints: list[int] = []
    real_checkpoint = sqlite_module._checkpoint

    def recorded(connection: sqlite3.Connection) -> None:
        checkpoints.append(threading.get_ident())
        real_checkpoint(connection)

    monkeypatch.setattr(sqlite_module, "_checkpoint", recorded)
    store = SqliteItemStore(db_path, checkpoint_every=8)
    wal = db_path.with_name(db_path.name + "-wal")
    sizes: list[int] = []
    try:
        for n in range(400):
            await store.write([Put(item("W", f"{n:04}", text="x" * 2000))])
            sizes.append(wal.stat().st_size)
        assert len((await store.query("W", limit=1000)).items) == 400
    finally:
        await store.close()
    assert len(checkpoints) >= 40 and loop_thread not in checkpoints
    # Each write adds a few 4 KiB pages to the WAL: ~6 MiB for the 400 if it never
    # started again (measured), ~150 KiB when it does every ~9 writes.
    assert max(sizes) < 512 * 1024, max(sizes)
    reopened = SqliteItemStore(db_path)
    try:
        assert len((await reopened.query("W", limit=1000)).items) == 400
    finally:
        await reopened.close()
