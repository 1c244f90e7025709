"""The event log's retention rule: old rows go only once a verified backup holds them."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from controller.config.retention import RetentionConfig
from controller.ops.backup import backup_database, prune_archived_events
from controller.store import open_db
from controller.store.db import transaction
from controller.store.outbox import save_sent_mark
from controller.store.retention import mark_archived
from tests.process import cli

DAY_S = 86_400.0


def _database(path: Path, old: int, new: int) -> None:
    """``old`` events 100 days old, then ``new`` events of now."""
    db = open_db(path)
    stamps = [time.time() - 100 * DAY_S] * old + [time.time()] * new
    try:
        transaction(db, lambda d: d.conn.executemany(
            "INSERT INTO events (ts, kind, data) VALUES (?, 'coin', '{}')",
            [(ts,) for ts in stamps]))
    finally:
        db.conn.close()


def _ids(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [int(r[0]) for r in conn.execute("SELECT id FROM events ORDER BY id")]
    finally:
        conn.close()


def test_a_row_no_backup_holds_cannot_be_deleted(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    _database(path, 5, 0)
    db = open_db(path)
    try:
        transaction(db, lambda d: mark_archived(d, 3))
        transaction(db, lambda d: d.conn.execute("DELETE FROM events WHERE id <= 3"))
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            transaction(db, lambda d: d.conn.execute("DELETE FROM events WHERE id = 4"))
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            transaction(db, lambda d: d.conn.execute("UPDATE events SET kind = 'x'"))
    finally:
        db.conn.close()
    assert _ids(path) == [4, 5]


def test_old_archived_rows_go_the_backup_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    _database(path, 30, 10)
    copy = backup_database(path, tmp_path / "copy.db")
    rule = RetentionConfig(events_keep_days=90, events_keep_rows=5)
    assert prune_archived_events(path, copy, rule, telemetry=False) == 30
    assert _ids(path) == list(range(31, 41))  # the recent ten stay: younger than 90 days
    assert _ids(copy) == list(range(1, 41))


def test_the_newest_rows_and_rows_after_the_backup_stay(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    _database(path, 30, 0)
    copy = backup_database(path, tmp_path / "copy.db")
    _database(path, 10, 0)  # old rows written after the copy: no backup has them
    rule = RetentionConfig(events_keep_days=0, events_keep_rows=25)
    assert prune_archived_events(path, copy, rule, telemetry=False) == 15
    assert _ids(path) == list(range(16, 41))


def test_rows_not_yet_at_the_broker_stay(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    _database(path, 30, 0)
    db = open_db(path)
    try:
        transaction(db, lambda d: save_sent_mark(d, 12))
    finally:
        db.conn.close()
    copy = backup_database(path, tmp_path / "copy.db")
    rule = RetentionConfig(events_keep_days=0, events_keep_rows=0)
    assert prune_archived_events(path, copy, rule, telemetry=True) == 12
    assert prune_archived_events(path, copy, RetentionConfig(enabled=False),
                                 telemetry=False) == 0
    assert _ids(path) == list(range(13, 31))


def test_vending_backup_applies_the_configured_rule(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    _database(path, 20, 3)
    config = tmp_path / "vending.toml"
    config.write_text("[retention]\nevents_keep_days = 30\nevents_keep_rows = 0\n")
    done = cli(path, "backup", str(tmp_path / "copy.db"), "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "20 event row(s)" in done.stdout
    assert _ids(path) == [21, 22, 23]
    audit = cli(tmp_path / "copy.db", "audit", "--verify")
    assert audit.returncode == 0, audit.stderr
