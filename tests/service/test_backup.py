"""``vending backup``: an online copy of a running machine's database that verifies."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.process import Server, cli, login

PRICE = 65


def _sell(server: Server, sales: int) -> None:
    for _ in range(sales):
        server.call("POST", "/sim/coin", {"coin": 100})
        server.call("POST", "/sim/press", {"keys": "A1"})


def _vends(audit_stdout: str) -> int:
    va1 = next(line for line in audit_stdout.splitlines() if line.startswith("VA1*"))
    return int(va1.split("*")[2])


@pytest.mark.timeout(120)
def test_backup_of_a_running_machine_verifies(tmp_path: Path) -> None:
    db = tmp_path / "vending.db"
    server = Server(db)
    server.start()
    copies = tmp_path / "backups"
    copies.mkdir()
    try:
        server.call("POST", "/user", {"username": "sam", "password": "seller-pass",
                                      "role": "seller"})
        seller = login(server, "sam", "seller-pass")
        server.call("POST", "/product", {"productName": "Cola", "cost": PRICE,
                                         "amountAvailable": 10, "slot": "A1"}, seller)
        _sell(server, 2)
        buying = threading.Thread(target=_sell, args=(server, 3))
        buying.start()  # copies taken while coins, vends and change go on
        taken = [cli(db, "backup", str(copies / f"copy{i}.db")) for i in range(3)]
        buying.join(60)
        final = cli(db, "backup", str(copies))
    finally:
        server.stop()
    for result in [*taken, final]:
        assert result.returncode == 0, result.stderr
    for copy in copies.glob("*.db"):
        assert copy.stat().st_mode & 0o077 == 0  # the owner's only
        audit = cli(copy, "audit", "--verify")
        assert audit.returncode == 0, audit.stderr
        assert 2 <= _vends(audit.stdout) <= 5
    dated = [p for p in copies.glob("vending-*.db")]
    assert len(dated) == 1 and _vends(cli(dated[0], "audit").stdout) == 5
    assert not list(copies.glob("*.partial"))


def test_backup_refuses_bad_targets_and_prunes(tmp_path: Path) -> None:
    from controller.errors import ConfigError
    from controller.ops.backup import backup_database
    from controller.store import open_db

    db = tmp_path / "vending.db"
    open_db(db).conn.close()
    with pytest.raises(ConfigError):
        backup_database(db, db)
    with pytest.raises(ConfigError):
        backup_database(tmp_path / "missing.db", tmp_path / "x.db")
    with pytest.raises(ConfigError):
        backup_database(db, tmp_path / "x.db", keep=3)
    copies = tmp_path / "copies"
    copies.mkdir()
    for name in ("vending-20260101-000000.db", "vending-20260102-000000.db"):
        (copies / name).write_bytes(b"")
    made = backup_database(db, copies, keep=2)
    assert sorted(p.name for p in copies.iterdir()) == ["vending-20260102-000000.db", made.name]
    assert cli(tmp_path / "missing.db", "backup", str(tmp_path / "y.db")).returncode == 2


@pytest.mark.parametrize("target", ["missing/", "missing/copy.db", "missing/deeper/"])
def test_backup_to_a_missing_directory_says_so(tmp_path: Path, target: str) -> None:
    from controller.store import open_db

    db = tmp_path / "vending.db"
    open_db(db).conn.close()
    done = cli(db, "backup", f"{tmp_path}/{target}")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "no such directory" in done.stderr and "mkdir -p" in done.stderr
    assert not (tmp_path / "missing").exists()
