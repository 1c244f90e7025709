"""``vending backup PATH``: an online, consistent copy of the database.

SQLite's online backup API copies every page under one read transaction: in
WAL mode that reader never blocks the running ``vending run`` (its writes go
to the WAL meanwhile) and sees one committed state, so the copy is consistent
with itself and the ledger identities hold in it.  The copy is written beside
its final name, checked (``PRAGMA integrity_check``), fsynced and renamed into
place, readable by its owner only: a half-written backup never has the final
name.

After the copy, the retention rule (``controller.store.retention``) may delete
old rows of the event log that the copy holds: ``prune_archived_events``.

Not done here: copying the simulated world or the token secret (a restored
machine issues new tokens), shipping the copy off the machine.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path

from controller.config.retention import RetentionConfig
from controller.errors import ConfigError, StoreError
from controller.store import open_db
from controller.store.db import transaction
from controller.store.retention import mark_archived, prune_batch

BUSY_TIMEOUT_MS = 10_000
PREFIX = "vending-"


def backup_database(source: Path, target: Path, *, keep: int | None = None) -> Path:
    """Copy ``source`` to ``target`` (a file, or a directory for a dated file)."""
    if not source.exists():
        raise ConfigError(f"{source}: no such database")
    if target.is_dir():
        target = target / f"{PREFIX}{time.strftime('%Y%m%d-%H%M%S')}.db"
    elif keep is not None:
        raise ConfigError("--keep needs a directory as PATH")
    if keep is not None and keep < 1:
        raise ConfigError("--keep must be 1 or more")
    if not target.parent.is_dir():
        raise StoreError(f"{target.parent}: no such directory; create it first "
                         f"(mkdir -p {target.parent}), writable by the user running the backup")
    if target.resolve() == source.resolve():
        raise ConfigError(f"{target}: the backup cannot overwrite the database itself")
    partial = target.with_name(target.name + ".partial")
    _copy(source, partial)
    _fsync(partial)
    os.replace(partial, target)
    _fsync(target.parent)
    if keep is not None:
        _prune(target.parent, keep)
    return target


def _copy(source: Path, partial: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot write the copy in {partial.parent}: "
                         f"{exc.strerror or exc}") from None
    os.close(fd)
    src = sqlite3.connect(source, timeout=BUSY_TIMEOUT_MS / 1000)  # it only reads
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst)  # every page in one step: one consistent read transaction
        dst.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise StoreError(f"the copy failed its integrity check: {check}")
    except sqlite3.Error as exc:
        dst.close()
        partial.unlink(missing_ok=True)
        raise StoreError(f"backup of {source} failed: {exc}") from exc
    finally:
        src.close()
    dst.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(directory: Path, keep: int) -> None:
    """Keep the ``keep`` newest dated backups in ``directory``."""
    dated = sorted(p for p in directory.glob(f"{PREFIX}*.db") if p.is_file())
    for old in dated[:-keep]:
        old.unlink()


def newest_event_in(copy: Path) -> int:
    """The newest event id a (verified) backup holds."""
    conn = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])
    finally:
        conn.close()


def prune_archived_events(source: Path, copy: Path, rule: RetentionConfig, *,
                          telemetry: bool) -> int:
    """Mark what ``copy`` holds as archived in ``source``, then delete the event rows the
    rule lets go, a short transaction at a time (safe while the machine runs)."""
    archived = newest_event_in(copy)
    db = open_db(source)
    try:
        transaction(db, lambda d: mark_archived(d, archived))
        pruned = 0
        while True:
            deleted = transaction(db, lambda d: prune_batch(d, rule, telemetry=telemetry))
            pruned += deleted
            if deleted == 0:
                return pruned
    finally:
        db.conn.close()
