"""ItemStore over one SQLite file: the local default, held to the same contract as DynamoDB
and the fake (tests/contract).

Writes use BEGIN IMMEDIATE, which serialises them against every other connection to the
file (a CLI command next to the server included). Small writes (up to ``inline_writes``
ops: every write of an upload) run on the event loop's own connection: in WAL mode with
``synchronous = NORMAL`` a commit is a write to the page cache, ~50 µs, where a trip to the
writer thread came back through the loop's queue behind every other request's step. That
connection never checkpoints (``wal_autocheckpoint = 0``): checkpoints, which fsync, run on
the writer thread every CHECKPOINT_EVERY writes on the loop (``_wrote_inline``), and a
write that finds the lock held goes to the writer thread, which may wait. Larger writes (a
restore's batches) go through that one writer thread.

Small reads (up to ``inline_items`` items: a profile, a page of a listing) run on the
event loop's connection too: in WAL mode a reader never waits for a writer, and a point
read from the page cache takes ~10 µs where the hop to a worker thread and back cost
~50 µs and contended for the GIL with the loop. That connection never waits for a lock
(busy timeout 0): the rare read SQLite answers "busy" (another process holding the file
exclusively, a WAL reset) is retried on a reader thread, which may wait. Larger reads and
scans go to a small pool of reader threads, each with its own connection, so decoding many
items never stalls the loop. Opening is lazy: the constructor does no I/O, the first call
creates the folder, the file and the schema, and a broken file shows up as
StoreUnavailableError from that call (ping() is the cheap way to ask).
"""

import asyncio
import enum
import json
import logging
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, TypeVar

import orjson

from adapters.items.conditions import (
    add_bounds,
    add_holds,
    added,
    check_write_batch,
    condition_holds,
    is_storable_text,
    op_key,
    validate_page_size,
    validate_query,
)
from adapters.items.cursors import decode_cursor, encode_cursor
from domain.errors import ConflictError, StoreUnavailableError
from domain.ports import INDEXES, Add, Delete, Item, Key, Page, Put, WriteOp, index_keys

_T = TypeVar("_T")

logger = logging.getLogger(__name__)

_UNAVAILABLE = "The item store is unavailable"
_CLOSED = "The item store is closed"
_CONFLICT = "The item changed or already exists; nothing was written"
# Two bound variables per key keeps a statement far below SQLite's smallest variable limit.
_KEYS_PER_STATEMENT = 200
_BACKFILL_BATCH = 500
# Reads of up to this many items run on the event loop (the module docstring says why).
INLINE_READ_ITEMS = 100
# Writes of up to this many ops too: an upload's largest (the new file's search index) has
# ~20; a restore's batches of 100 keep overlapping their SQLite work with the loop's.
INLINE_WRITE_OPS = 40
# The loop's connection never checkpoints; the writer thread does, after this many writes
# on the loop (SQLite's own default: every ~1,000 WAL pages, ~100-200 such writes).
CHECKPOINT_EVERY = 64
# A WAL past this many frames (~8 MiB) that a PASSIVE checkpoint could not copy back
# whole is checkpointed by one that waits (RESTART), so it cannot grow without bound.
RESTART_FRAMES = 2_000
_MAX_CODE_POINT = 0x10FFFF


class _Busy(enum.Enum):
    BUSY = "busy"


_BUSY = _Busy.BUSY


_INDEX_COLUMNS: dict[str, tuple[str, str]] = {index: index_keys(index) for index in INDEXES}
_ALL_INDEX_COLUMNS = tuple(column for pair in _INDEX_COLUMNS.values() for column in pair)
_COLUMNS = ("pk", "sk", *_ALL_INDEX_COLUMNS, "data")
# Column names are spliced into SQL text, so they must be plain identifiers; they come from
# domain.ports, never from a caller, and this keeps a typo there from becoming bad SQL.
if not all(re.fullmatch(r"[a-z][a-z0-9_]*", column) for column in _COLUMNS):
    raise RuntimeError("index attribute names must be plain SQL identifiers")

# TEXT columns compare with BINARY collation: memcmp over UTF-8, which orders valid
# Unicode exactly as Python orders str (by code point) and DynamoDB orders keys (by bytes).
_CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS items (pk TEXT NOT NULL, sk TEXT NOT NULL, "
    + "".join(f"{column} TEXT, " for column in _ALL_INDEX_COLUMNS)
    + "data TEXT NOT NULL, PRIMARY KEY (pk, sk))"
)
# Partial: items outside an index cost it nothing, and "gsiNpk = ?" still uses it.
_CREATE_INDEXES = tuple(
    f"CREATE INDEX IF NOT EXISTS items_{index} ON items ({pk}, {sk}, pk, sk) WHERE {pk} IS NOT NULL"
    for index, (pk, sk) in _INDEX_COLUMNS.items()
)
# The S608 waivers below and in _query_sql: only these checked identifiers and "?"
# placeholders are spliced into SQL; every value is a bound parameter.
_ASSIGN_DATA = ", ".join(f"{column} = excluded.{column}" for column in _COLUMNS[2:])
_PLACEHOLDERS = ", ".join("?" * len(_COLUMNS))
_UPSERT = (
    f"INSERT INTO items ({', '.join(_COLUMNS)}) VALUES ({_PLACEHOLDERS}) "  # noqa: S608
    f"ON CONFLICT (pk, sk) DO UPDATE SET {_ASSIGN_DATA}"
)
_ASSIGN_INDEX = ", ".join(f"{column} = ?" for column in _ALL_INDEX_COLUMNS)
_SET_INDEX_COLUMNS = f"UPDATE items SET {_ASSIGN_INDEX} WHERE rowid = ?"  # noqa: S608


class SqliteItemStore:
    """ItemStore on the SQLite file at ``path``. Call ``await close()`` when done: it lets
    queued calls finish, then closes every connection; later calls raise
    StoreUnavailableError. As with a request already sent to DynamoDB, cancelling a call
    does not stop it: a cancelled write may still be committed."""

    def __init__(
        self,
        path: Path,
        *,
        readers: int = 4,
        busy_timeout: float = 5.0,
        inline_items: int = INLINE_READ_ITEMS,
        inline_writes: int = INLINE_WRITE_OPS,
        checkpoint_every: int = CHECKPOINT_EVERY,
    ) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._inline_items = inline_items
        self._inline_writes = inline_writes
        self._checkpoint_every = checkpoint_every
        self._writes_since_checkpoint = 0
        self._restart_pending = False
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._schema_ready = False
        self._closed = False
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-items-write")
        self._readers = ThreadPoolExecutor(
            max_workers=readers, thread_name_prefix="sqlite-items-read"
        )

    async def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        if not keys:
            return []
        work = partial(self._get_many, keys)
        if len(keys) <= self._inline_items:
            return await self._read_inline(work)
        return await self._run(self._readers, work)

    async def query(
        self,
        partition: str,
        *,
        index: str | None = None,
        prefix: str | None = None,
        after: str | None = None,
        limit: int = 100,
        descending: bool = False,
    ) -> Page:
        validate_query(index=index, limit=limit, partition=partition, prefix=prefix)
        order = ("sk",) if index is None else (_INDEX_COLUMNS[index][1], "pk", "sk")
        start = decode_cursor(after, parts=len(order)) if after is not None else None
        sql, params = _query_sql(partition, index, prefix, start, descending, limit)
        work = partial(_select_page, sql, params, limit)
        if limit <= self._inline_items:
            return await self._read_inline(work)
        # A large limit is often a small answer (search reads "up to 1000" postings of a
        # rare term): try on the loop, and hand the query to a reader only when it is big.
        small = await self._read_inline(
            partial(_select_small_page, sql, params, self._inline_items)
        )
        if small is not None:
            return small
        return await self._run(self._readers, work)

    async def write(self, ops: Sequence[WriteOp]) -> None:
        check_write_batch(ops)
        work = partial(self._apply, list(ops))
        if len(ops) <= self._inline_writes and not self._restart_pending:
            if await self._inline(work) is not _BUSY:
                self._wrote_inline()
                return
            # Busy: the writer thread (or another process) holds the lock; the writer
            # thread may wait for it, the event loop may not. Nothing was written.
        restarts = self._restart_pending
        try:
            await self._run(self._writer, work)
        finally:
            if restarts:
                # Queued behind the checkpoint, this write restarted the WAL (and paid its
                # header's fsync) on the writer thread: the loop's turn again.
                self._restart_pending = False

    def _wrote_inline(self) -> None:
        """Every ``checkpoint_every`` writes on the loop, a checkpoint on the writer thread,
        and the writes that follow go there too until one has run after it: a PASSIVE
        checkpoint copies back the whole WAL only if no write comes meanwhile, and the first
        write after it starts the WAL again from its beginning, which fsyncs the WAL's
        header: both on the writer thread, never on the loop."""
        self._writes_since_checkpoint += 1
        if self._writes_since_checkpoint < self._checkpoint_every:
            return
        try:
            done = asyncio.get_running_loop().run_in_executor(self._writer, self._call, _checkpoint)
        except RuntimeError:  # close() shut the writer down: it checkpoints as it closes
            return
        self._writes_since_checkpoint = 0
        self._restart_pending = True
        done.add_done_callback(_log_checkpoint_failure)

    async def scan(self, *, page_size: int = 500) -> AsyncIterator[list[Item]]:
        validate_page_size(page_size)
        # Key order with "strictly after the last key" pages: an item rewritten mid-scan can
        # neither appear twice nor be skipped, and no page holds more than page_size items.
        last: tuple[str, str] | None = None
        while True:
            items = await self._run(self._readers, partial(_scan_page, last, page_size))
            if items:
                yield items
            if len(items) < page_size:
                return
            last = (items[-1]["pk"], items[-1]["sk"])

    async def ping(self) -> None:
        # Touch the table, not just the connection: a file that is not a database fails here.
        await self._run(self._readers, partial(_fetch_all, "SELECT 1 FROM items LIMIT 1", []))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._shutdown)

    async def _run(
        self, executor: ThreadPoolExecutor, work: Callable[[sqlite3.Connection], _T]
    ) -> _T:
        if self._closed:
            raise StoreUnavailableError(_CLOSED)
        try:
            future: asyncio.Future[_T] = asyncio.get_running_loop().run_in_executor(
                executor, self._call, work
            )
        except RuntimeError as exc:  # close() shut the executor down after the check above
            raise StoreUnavailableError(_CLOSED) from exc
        return await future

    async def _read_inline(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        found = await self._inline(work)
        if found is _BUSY:
            # A reader thread may wait for the lock, the event loop may not.
            return await self._run(self._readers, work)
        return found

    async def _inline(self, work: Callable[[sqlite3.Connection], _T]) -> _T | _Busy:
        """``work`` on this thread's own connection, without a thread hop (see the module
        docstring), or _BUSY when SQLite answers busy (a write rolled back, nothing
        written); opened on a worker the first time, as opening may create the file and
        wait on another process's lock."""
        if self._closed:
            raise StoreUnavailableError(_CLOSED)
        if getattr(self._local, "connection", None) is None:
            opened = await self._run(self._readers, lambda _: self._open_never_waiting())
            if getattr(self._local, "connection", None) is None:
                self._local.connection = opened
        try:
            return work(self._local.connection)
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # extended code -> primary
            if code not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise StoreUnavailableError(_UNAVAILABLE) from exc
        except (sqlite3.Error, OSError, json.JSONDecodeError) as exc:
            raise StoreUnavailableError(_UNAVAILABLE) from exc
        return _BUSY

    def _call(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Runs on a worker thread; the only place driver errors become domain errors."""
        try:
            return work(self._connection())
        except (sqlite3.Error, OSError, json.JSONDecodeError) as exc:
            raise StoreUnavailableError(_UNAVAILABLE) from exc

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._open()
            self._local.connection = connection
        return connection

    def _open_never_waiting(self) -> sqlite3.Connection:
        connection = self._open()  # may wait, on a worker: it may create the schema
        connection.execute("PRAGMA busy_timeout = 0")
        # Its commits never checkpoint (a checkpoint fsyncs): the writer thread does.
        connection.execute("PRAGMA wal_autocheckpoint = 0")
        return connection

    def _open(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False so close() can close connections from its own thread once
        # the workers have stopped, and so a worker can open the event loop's; each
        # connection is then used by exactly one thread.
        connection = sqlite3.connect(
            self._path,
            timeout=self._busy_timeout,
            isolation_level=None,  # autocommit; transactions are explicit BEGIN/COMMIT
            check_same_thread=False,
        )
        try:
            # WAL makes a crash lose at most the last commits, never corrupt the file, so
            # NORMAL (no fsync per commit) is safe and much faster.
            connection.execute("PRAGMA synchronous = NORMAL")
            with self._lock:
                if not self._schema_ready:
                    _create_schema(connection)
                    self._schema_ready = True
                self._connections.append(connection)
        except BaseException:
            connection.close()
            raise
        return connection

    def _get_many(self, keys: Sequence[Key], connection: sqlite3.Connection) -> list[Item | None]:
        # A key SQLite cannot even encode names no stored item (writes refuse such text).
        wanted = list(
            dict.fromkeys(
                (key.pk, key.sk)
                for key in keys
                if isinstance(key.pk, str)
                and isinstance(key.sk, str)
                and is_storable_text(key.pk)
                and is_storable_text(key.sk)
            )
        )
        found: dict[tuple[str, str], str] = {}
        if len(wanted) <= _KEYS_PER_STATEMENT:
            # One statement reads one snapshot by itself: no BEGIN and COMMIT round trips.
            found.update(_select_keys(connection, wanted))
        else:
            # One read transaction over all chunks, so the result is one consistent snapshot.
            with self._transaction(connection, "BEGIN"):
                for start in range(0, len(wanted), _KEYS_PER_STATEMENT):
                    found.update(
                        _select_keys(connection, wanted[start : start + _KEYS_PER_STATEMENT])
                    )
        # Decode per position so duplicate keys get separate, independently mutable items.
        return [
            _decode(found[(key.pk, key.sk)]) if (key.pk, key.sk) in found else None for key in keys
        ]

    def _apply(self, ops: list[WriteOp], connection: sqlite3.Connection) -> None:
        rows = [_row(op.item) for op in ops if isinstance(op, Put)]
        with self._transaction(connection, "BEGIN IMMEDIATE"):
            for op in ops:
                if isinstance(op, Add):
                    _add(connection, op)
                elif op.condition is not None and not condition_holds(
                    op.condition, _get_one(connection, *op_key(op))
                ):
                    raise ConflictError(_CONFLICT)
            connection.executemany(_UPSERT, rows)
            connection.executemany(
                "DELETE FROM items WHERE pk = ? AND sk = ?",
                [(op.key.pk, op.key.sk) for op in ops if isinstance(op, Delete)],
            )

    @contextmanager
    def _transaction(self, connection: sqlite3.Connection, begin: str) -> Iterator[None]:
        """``begin`` is "BEGIN" for a read snapshot, "BEGIN IMMEDIATE" to write."""
        connection.execute(begin)
        try:
            yield
            connection.execute("COMMIT")
        except BaseException:
            try:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
            except sqlite3.Error:
                # A connection that cannot roll back cannot be trusted with the next
                # transaction; drop it and let this thread open a fresh one.
                self._local.connection = None
                connection.close()
            raise

    def _shutdown(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._lock:
            connections, self._connections = self._connections, []
        failure: sqlite3.Error | None = None
        for connection in connections:
            try:
                connection.close()
            except sqlite3.Error as exc:
                failure = exc
        if failure is not None:
            raise StoreUnavailableError(_UNAVAILABLE) from failure


def _checkpoint(connection: sqlite3.Connection) -> None:
    """On the writer thread. PASSIVE waits for nobody; a WAL it could not copy back whole
    (another process writing, a long read) is restarted by a checkpoint that waits for
    them (the writer's busy timeout) once it has grown past RESTART_FRAMES."""
    _, frames, _ = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
    if frames >= RESTART_FRAMES:
        connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()


def _log_checkpoint_failure(done: "asyncio.Future[None]") -> None:
    if not done.cancelled() and done.exception() is not None:
        # The next one tries again: a write never fails for a checkpoint's sake.
        logger.warning("sqlite items: a WAL checkpoint failed: %s", done.exception())


def _create_schema(connection: sqlite3.Connection) -> None:
    # journal_mode is stored in the file and cannot change inside a transaction.
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute(_CREATE_TABLE)
        existing = {row[1] for row in connection.execute("PRAGMA table_info(items)")}
        missing = [column for column in _ALL_INDEX_COLUMNS if column not in existing]
        # A file from before an index was added to INDEXES: add its columns and fill them
        # from the stored items, so adding an index stays a one-line change in domain.ports.
        for column in missing:
            connection.execute(f"ALTER TABLE items ADD COLUMN {column} TEXT")
        if missing:
            _backfill_index_columns(connection)
        for statement in _CREATE_INDEXES:
            connection.execute(statement)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _backfill_index_columns(connection: sqlite3.Connection) -> None:
    last_rowid = 0
    while True:
        batch = connection.execute(
            "SELECT rowid, data FROM items WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (last_rowid, _BACKFILL_BATCH),
        ).fetchall()
        if not batch:
            return
        connection.executemany(
            _SET_INDEX_COLUMNS,
            [(*_index_values(_decode(data)), rowid) for rowid, data in batch],
        )
        last_rowid = batch[-1][0]


def _index_values(item: Item) -> list[str | None]:
    """An item is in an index only when it holds both of that index's keys, as in DynamoDB."""
    values: list[str | None] = []
    for pk, sk in _INDEX_COLUMNS.values():
        present = isinstance(item.get(pk), str) and isinstance(item.get(sk), str)
        values += [item[pk], item[sk]] if present else [None, None]
    return values


def _row(item: Item) -> tuple[Any, ...]:
    data = json.dumps(item, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (item["pk"], item["sk"], *_index_values(item), data)


def _decode(data: str) -> Item:
    # orjson reads the JSON _row writes 2-3x faster than json (a page decodes 40 items).
    # It reads an integer beyond 64 bits as a float and refuses what it cannot hold (1e400,
    # escaped lone surrogates): such items, and any holding a float, take json, as before.
    try:
        item: Item = orjson.loads(data)
    except orjson.JSONDecodeError:
        item = json.loads(data)
        return item
    if _holds_float(item):
        item = json.loads(data)
    return item


def _holds_float(value: Any) -> bool:
    pending = [value]
    while pending:
        node = pending.pop()
        for part in node.values() if type(node) is dict else node:
            kind = type(part)
            if kind is float:
                return True
            if kind is dict or kind is list:
                pending.append(part)
    return False


def _add(connection: sqlite3.Connection, op: Add) -> None:
    """One UPDATE whose WHERE is the Add's condition, so SQLite itself checks and adds
    (the caller holds the write transaction); only a missing item needs a second step."""
    sql, params = _add_sql(op)
    if connection.execute(sql, params).rowcount == 1:
        return
    if _get_one(connection, op.key.pk, op.key.sk) is not None or not add_holds(op, None):
        raise ConflictError(_CONFLICT)
    connection.execute(_UPSERT, _row(added(op, None)))


def _add_sql(op: Add) -> tuple[str, list[Any]]:
    # JSON paths are bound parameters like every value; names are plain identifiers anyway.
    paths = {name: f"$.{name}" for name in [*op.deltas, *op.defaults]}
    value = "data"
    params: list[Any] = []
    if op.deltas:
        value = (
            f"json_set({value}"
            + ", ?, coalesce(json_extract(data, ?), 0) + ?" * len(op.deltas)
            + ")"
        )
        for name, delta in op.deltas.items():
            params += [paths[name], paths[name], delta]
    if op.defaults:
        value = f"json_insert({value}" + ", ?, json(?)" * len(op.defaults) + ")"
        for name, default in op.defaults.items():
            params += [paths[name], json.dumps(default, ensure_ascii=False)]
    where = ["pk = ?", "sk = ?"]
    params += [op.key.pk, op.key.sk]
    for name in op.deltas:
        where.append("coalesce(json_type(data, ?), 'integer') = 'integer'")
        params.append(paths[name])
    for name, most in add_bounds(op).items():
        where.append("coalesce(json_extract(data, ?), 0) <= ?")
        params += [paths[name], most]
    sql = f"UPDATE items SET data = {value} WHERE {' AND '.join(where)}"  # noqa: S608 - placeholders only
    return sql, params


def _get_one(connection: sqlite3.Connection, pk: str, sk: str) -> Item | None:
    row = connection.execute("SELECT data FROM items WHERE pk = ? AND sk = ?", (pk, sk)).fetchone()
    return None if row is None else _decode(row[0])


def _select_keys(
    connection: sqlite3.Connection, keys: list[tuple[str, str]]
) -> Iterator[tuple[tuple[str, str], str]]:
    params = [part for key in keys for part in key]
    for pk, sk, data in connection.execute(_select_keys_sql(len(keys)), params):
        yield (pk, sk), data


@lru_cache(maxsize=_KEYS_PER_STATEMENT)
def _select_keys_sql(count: int) -> str:
    # CROSS JOIN fixes the join order: walk the keys, probe the primary key for each;
    # a plain IN (VALUES ...) made SQLite scan the whole table.
    values = ", ".join("(?, ?)" for _ in range(count))
    return (
        f"SELECT items.pk, items.sk, items.data FROM (VALUES {values}) AS wanted "  # noqa: S608 - placeholders only
        "CROSS JOIN items ON items.pk = wanted.column1 AND items.sk = wanted.column2"
    )


def _prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string above every string that starts with ``prefix`` (None: no bound).

    A range on the sort key can use the index and, unlike LIKE, treats % and _ literally
    and compares case-sensitively."""
    stem = prefix.rstrip(chr(_MAX_CODE_POINT))
    if not stem:
        return None
    following = ord(stem[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates cannot be stored; skip past them
        following = 0xE000
    return stem[:-1] + chr(following)


def _query_sql(
    partition: str,
    index: str | None,
    prefix: str | None,
    start: list[str] | None,
    descending: bool,
    limit: int,
) -> tuple[str, list[Any]]:
    pk, sk = ("pk", "sk") if index is None else _INDEX_COLUMNS[index]
    # Ties on an index sort key fall back to the table key, as the cursor position does.
    order = (sk,) if index is None else (sk, "pk", "sk")
    where = [f"{pk} = ?"]
    params: list[Any] = [partition]
    if prefix:
        where.append(f"{sk} >= ?")
        params.append(prefix)
        upper = _prefix_upper_bound(prefix)
        if upper is not None:
            where.append(f"{sk} < ?")
            params.append(upper)
    if start is not None:
        placeholders = ", ".join("?" for _ in order)
        where.append(f"({', '.join(order)}) {'<' if descending else '>'} ({placeholders})")
        params.extend(start)
    direction = " DESC" if descending else ""
    # One row more than the page tells whether anything follows without a second query.
    params.append(limit + 1)
    sql = (
        f"SELECT data, {', '.join(order)} FROM items WHERE {' AND '.join(where)} "  # noqa: S608 - identifiers are constants
        f"ORDER BY {', '.join(column + direction for column in order)} LIMIT ?"
    )
    return sql, params


def _fetch_all(sql: str, params: list[Any], connection: sqlite3.Connection) -> list[Any]:
    return connection.execute(sql, params).fetchall()


def _select_page(sql: str, params: list[Any], limit: int, connection: sqlite3.Connection) -> Page:
    return _page_of(connection.execute(sql, params).fetchall(), limit)


def _select_small_page(
    sql: str, params: list[Any], most: int, connection: sqlite3.Connection
) -> Page | None:
    """The whole answer when it is at most ``most`` items (the query's own limit is larger),
    else None, having decoded nothing."""
    cursor = connection.execute(sql, params)
    try:
        rows = cursor.fetchmany(most + 1)
    finally:
        cursor.close()  # ends the statement, and with it the read snapshot
    return None if len(rows) > most else _page_of(rows, most)


def _page_of(rows: list[Any], limit: int) -> Page:
    # The query asked for limit + 1 rows: one more than the page says whether more follow.
    page = rows[:limit]
    item_cursors = [encode_cursor(list(row[1:])) for row in page]
    cursor = item_cursors[-1] if len(rows) > limit else None
    return Page(items=[_decode(row[0]) for row in page], cursor=cursor, item_cursors=item_cursors)


def _scan_page(
    last: tuple[str, str] | None, page_size: int, connection: sqlite3.Connection
) -> list[Item]:
    if last is None:
        sql = "SELECT data FROM items ORDER BY pk, sk LIMIT ?"
        params: list[Any] = [page_size]
    else:
        sql = "SELECT data FROM items WHERE (pk, sk) > (?, ?) ORDER BY pk, sk LIMIT ?"
        params = [*last, page_size]
    return [_decode(data) for (data,) in connection.execute(sql, params)]
