"""Database, WAL, SHM, token secret and simulated world: 0600 whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.auth import SECRET_FILE, load_secret
from controller.private_files import write_private
from controller.store import open_db
from simulators.world import SimWorld


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most careless umask there is."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("open_umask")
def test_database_wal_and_shm_are_private(tmp_path: Path) -> None:
    path = tmp_path / "vending.db"
    db = open_db(path)
    try:
        db.conn.execute("CREATE TABLE t (x)")
        db.conn.execute("INSERT INTO t VALUES (1)")
        companions = [path, path.with_name("vending.db-wal"), path.with_name("vending.db-shm")]
        assert all(p.exists() for p in companions)
        assert {p.name: _mode(p) for p in companions} == {p.name: 0o600 for p in companions}
    finally:
        db.conn.close()


@pytest.mark.usefixtures("open_umask")
def test_secret_and_world_are_private(tmp_path: Path) -> None:
    load_secret(None, tmp_path)
    assert _mode(tmp_path / SECRET_FILE) == 0o600
    world_path = tmp_path / "vending.db.world.json"
    world = SimWorld.load_or_create(world_path, coins=[5, 10], slots=["A1"])
    world.save()
    assert _mode(world_path) == 0o600
    assert not world_path.with_name(world_path.name + ".tmp").exists()


@pytest.mark.usefixtures("open_umask")
def test_files_an_older_version_left_open_are_tightened(tmp_path: Path) -> None:
    db_path, secret = tmp_path / "vending.db", tmp_path / SECRET_FILE
    open_db(db_path).conn.close()
    secret.write_text("s" * 48 + "\n")
    world_path = tmp_path / "w.json"
    SimWorld.load_or_create(world_path, coins=[5], slots=["A1"]).save()
    for path in (db_path, secret, world_path):
        os.chmod(path, 0o644)
    open_db(db_path).conn.close()
    load_secret(None, tmp_path)
    SimWorld.load_or_create(world_path, coins=[5], slots=["A1"])
    assert [_mode(p) for p in (db_path, secret, world_path)] == [0o600] * 3


def test_write_private_replaces_a_wide_leftover_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    leftover = tmp_path / "x.json.tmp"
    leftover.write_text("old")
    os.chmod(leftover, 0o666)
    write_private(target, "{}")
    assert target.read_text() == "{}" and _mode(target) == 0o600
