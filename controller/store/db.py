"""The store: one SQLite connection owned by one thread, awaited from asyncio.

The event loop never touches the tables: every call is a function run on the
owner thread (a single-worker executor), and every multi-row change runs
inside one ``BEGIN IMMEDIATE`` transaction there.  The one exception is
``change_counter`` (SQLite's ``data_version`` on a connection of its own that
never writes): a read of the WAL index, for the read caches to ask on the loop.
SQLite is opened in WAL mode with ``synchronous=FULL`` so a committed
transaction survives a power cut.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from controller.errors import StoreError
from controller.money import COINS_CENTS
from controller.private_files import private_database
from controller.store.event_log import last_event_id
from controller.store.schema import COUNTER_NAMES, MIGRATIONS, SCHEMA_VERSION

T = TypeVar("T")
log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


def _connect(path: Path | str) -> sqlite3.Connection:
    private_database(Path(path))  # 0600 whatever the umask; WAL and SHM follow its mode
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration past ``user_version``; return the new version."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise StoreError(f"database schema {version} is newer than this program ({SCHEMA_VERSION})")
    for number in range(version + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            step = MIGRATIONS[number - 1]
            if callable(step):
                step(sqlite_utils.Database(conn))
            else:
                for statement in step:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION


def seed(conn: sqlite3.Connection, *, slots: Iterable[tuple[str, int]],
         hoppers: dict[int, int], hopper_fill: int) -> None:
    """First-start content: slots, coin rows, counters (idempotent).

    ``hopper_fill`` coins per hopper are entered as an operator refill so the
    ledger identities hold from the first coin on.
    """
    now = time.time()
    conn.execute("BEGIN IMMEDIATE")
    try:
        for position, (code, capacity) in enumerate(slots):
            conn.execute(
                "INSERT INTO slots (code, position, capacity) VALUES (?, ?, ?) "
                "ON CONFLICT(code) DO UPDATE SET capacity = excluded.capacity, "
                "position = excluded.position",
                (code, position, capacity),
            )
            conn.execute("INSERT OR IGNORE INTO slot_counters (slot) VALUES (?)", (code,))
        for name in COUNTER_NAMES:
            conn.execute("INSERT OR IGNORE INTO counters (name) VALUES (?)", (name,))
        seeded = conn.execute("SELECT value FROM meta WHERE key = 'seeded'").fetchone()
        for coin in COINS_CENTS:
            capacity = hoppers.get(coin, 0)
            conn.execute(
                "INSERT INTO coins (coin, capacity) VALUES (?, ?) "
                "ON CONFLICT(coin) DO UPDATE SET capacity = excluded.capacity",
                (coin, capacity),
            )
        if seeded is None:
            fill_value = 0
            for coin, capacity in hoppers.items():
                count = min(hopper_fill, capacity)
                conn.execute("UPDATE coins SET payout = ? WHERE coin = ?", (count, coin))
                fill_value += coin * count
            for name in ("adjustments", "refills"):
                conn.execute(
                    "UPDATE counters SET lifetime = lifetime + ?, interim = interim + ? "
                    "WHERE name = ?", (fill_value, fill_value, name))
            conn.execute("INSERT INTO meta (key, value) VALUES ('seeded', ?)", (str(now),))
            conn.execute(
                "INSERT INTO events (ts, kind, data) VALUES (?, 'machine_initialised', ?)",
                (now, json.dumps({"hopper_fill": hopper_fill, "value": fill_value})),
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def open_db(path: Path | str) -> sqlite_utils.Database:
    """A migrated sqlite-utils Database for synchronous use (CLI, recovery tools)."""
    conn = _connect(path)
    migrate(conn)
    return sqlite_utils.Database(conn)


class Store:
    """The one writer.  Construct without I/O; ``await start()``; ``await close()``.

    ``on_events_committed(last_id)`` is called on the event loop after every
    write transaction that appended rows to the ``events`` table (one call per
    transaction, whatever wrote the rows).
    """

    def __init__(self, path: Path | str,
                 on_events_committed: Callable[[int], None] | None = None) -> None:
        self.path = Path(path)
        self._executor: ThreadPoolExecutor | None = None
        self._db: sqlite_utils.Database | None = None
        self._thread_id: int | None = None
        self._on_events_committed = on_events_committed
        self._last_event_id = 0
        self._probe: sqlite3.Connection | None = None

    def change_counter(self) -> int:
        """A number that moves whenever any connection commits to the database (this
        store's writer, or another process such as the CLI remedies): SQLite's
        ``data_version`` read on a connection of its own that never writes.  Called on
        the event loop (a few microseconds: a read of the WAL index, no table read);
        ``StoreError`` when the store is not open.
        """
        if self._probe is None:
            raise StoreError("store is not open")
        return int(self._probe.execute("PRAGMA data_version").fetchone()[0])

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._db = await self._submit(self._open)
        self._last_event_id = await self._submit(last_event_id, self._db)
        self._probe = await self._submit(_open_probe, self.path)

    def _open(self) -> sqlite_utils.Database:
        self._thread_id = threading.get_ident()
        return open_db(self.path)

    async def close(self) -> None:
        if self._executor is None:
            return
        db, self._db = self._db, None
        probe, self._probe = self._probe, None
        if probe is not None:
            await self._submit(probe.close)
        if db is not None:
            await self._submit(db.conn.close)
        self._executor.shutdown(wait=True)
        self._executor = None

    @property
    def db(self) -> sqlite_utils.Database:
        if self._db is None:
            raise StoreError("store is not open")
        return self._db

    async def _submit(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise StoreError("store is not started")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except sqlite3.Error as exc:  # a full disk, a lock held too long, a broken file
            log.error("storage failed: %s: %s", type(exc).__name__, exc)
            raise StoreError("the machine's storage failed; nothing was changed (try again, "
                             "or tell the operator)") from exc

    async def run(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """Run ``fn(db)`` on the owner thread (reads, single statements)."""
        return await self._submit(fn, self.db)

    async def tx(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """Run ``fn(db)`` on the owner thread inside one write transaction."""
        noted: tuple[T, int] = await self._submit(_transaction_noting_events, self.db, fn)
        result, last_id = noted
        if last_id > self._last_event_id:
            self._last_event_id = last_id
            if self._on_events_committed is not None:
                self._on_events_committed(last_id)
        return result

    def in_owner_thread(self) -> bool:
        return threading.get_ident() == self._thread_id


def _open_probe(path: Path) -> sqlite3.Connection:
    """The change counter's connection (used from the event loop thread, reads only)."""
    # no busy timeout: the event loop never waits on it (a busy read counts as a change)
    return sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)


def transaction(db: sqlite_utils.Database, fn: Callable[[sqlite_utils.Database], T]) -> T:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception."""
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(db)
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")
    return result


def _transaction_noting_events(db: sqlite_utils.Database,
                               fn: Callable[[sqlite_utils.Database], T]) -> tuple[T, int]:
    """A transaction, and the event log's last id once it committed."""
    result = transaction(db, fn)
    return result, last_event_id(db)


def next_id(conn: sqlite3.Connection, table: str) -> int:
    """A row id for ``table`` that no row ever had, a deleted one included.

    An id in an old token, log line or audit row then never names a
    different user or product.  Call it inside the inserting transaction.
    """
    key = f"last_id:{table}"
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    top = int(conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0])
    new = max(int(row[0]) if row else 0, top) + 1
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, str(new)))
    return new
