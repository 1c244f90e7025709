from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from controller.store import Store, open_db
from controller.store.event_log import append_event
from controller.store.faults import all_faults, hopper_faults
from controller.store.schema import MIGRATIONS, SCHEMA_VERSION


def test_pragmas_and_schema_version(tmp_path: Path) -> None:
    db = open_db(tmp_path / "v.db")
    conn = db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "sessions", "slots", "products", "coins", "panel", "vends", "payouts",
            "device_state", "events", "counters", "slot_counters"} <= tables


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    open_db(tmp_path / "v.db").conn.close()
    db = open_db(tmp_path / "v.db")
    assert db.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "v.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(Exception, match="newer"):
        open_db(tmp_path / "v.db")


def test_events_are_append_only(tmp_path: Path) -> None:
    db = open_db(tmp_path / "v.db")
    append_event(db, "test", value=1)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.conn.execute("UPDATE events SET kind = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.conn.execute("DELETE FROM events")


@pytest.mark.asyncio
async def test_store_runs_on_one_thread_and_rolls_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "v.db")
    await store.start()
    try:
        assert not store.in_owner_thread()
        assert await store.run(lambda db: store.in_owner_thread())

        def failing(db: object) -> None:
            store.db.conn.execute("UPDATE panel SET credit = 500")
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await store.tx(failing)
        credit = await store.run(lambda db: db.conn.execute(
            "SELECT credit FROM panel").fetchone()[0])
        assert credit == 0
    finally:
        await store.close()


def test_faults_kept_in_two_blobs_move_into_one_table(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "v.db", isolation_level=None)
    for step in MIGRATIONS[:2]:  # a database of schema 2
        assert isinstance(step, list)
        for statement in step:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("""INSERT INTO meta VALUES ('faults', '{"acceptor": "lost events"}')""")
    conn.execute("""INSERT INTO meta VALUES ('hopper_faults', '{"50": "empty", "20": "jam"}')""")
    conn.close()
    db = open_db(tmp_path / "v.db")
    assert {(f.device, f.reason, f.stops_machine) for f in all_faults(db)} == {
        ("acceptor", "lost events", True), ("hopper:50", "empty", False),
        ("hopper:20", "jam", False)}
    assert hopper_faults(db) == {50: "empty", 20: "jam"}
    assert db.conn.execute("SELECT COUNT(*) FROM meta WHERE key LIKE '%faults'").fetchone()[0] == 0
