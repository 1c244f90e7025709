"""``vending user list|remove`` and ``vending product remove``: an operator's remedies."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from controller.accounts import rules as accounts
from controller.catalog import rules as catalog
from controller.store import open_db
from controller.store.db import seed, transaction
from controller.store.products import list_products
from tests.unit.test_cli import run_cli

SLOTS = [("A1", 10), ("A2", 10), ("A3", 10)]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A machine where ``mallory`` squats every slot and ``bea`` holds a deposit."""
    path = tmp_path / "v.db"
    db = open_db(path)
    seed(db.conn, slots=SLOTS, hoppers={c: 200 for c in (5, 10, 20, 50, 100)}, hopper_fill=20)
    mallory = accounts.create_user_cli(db, "mallory", "seller", "squat-all-slots")
    accounts.create_user_cli(db, "bea", "buyer", "bea-buys-snacks")

    def squat(d: object) -> None:
        for slot, _ in SLOTS:
            catalog.create_product(db, mallory, {"productName": "Rocks", "cost": 995,
                                                 "amountAvailable": 1, "slot": slot})
        db.conn.execute("UPDATE users SET deposit = 120 WHERE username = 'bea'")

    transaction(db, squat)
    db.conn.close()
    return path


def _products(path: Path) -> list[dict[str, object]]:
    db = open_db(path)
    try:
        return list_products(db)
    finally:
        db.conn.close()


def test_user_list_shows_roles_deposits_and_slots(db_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "user", "list", "--db", str(db_path))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["id", "username", "role", "deposit"]
    mallory = next(line for line in lines if "mallory" in line).split()
    assert mallory[2] == "seller" and mallory[-1] == "A1,A2,A3"
    bea = next(line for line in lines if "bea" in line).split()
    assert bea[3] == "120"


def test_removing_a_squatter_refuses_then_frees_the_slots(
        db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "user", "remove", "mallory", "--db", str(db_path))
    assert code == 1
    assert "3 product(s)" in err and "--with-products" in err and "Nothing was changed" in err
    assert len(_products(db_path)) == 3
    code, out, _ = run_cli(capsys, "user", "remove", "MALLORY", "--with-products",
                           "--db", str(db_path))
    assert code == 0 and "slots freed: A1, A2, A3" in out
    assert _products(db_path) == []
    code, out, _ = run_cli(capsys, "user", "list", "--db", str(db_path))
    assert "mallory" not in out


def test_an_account_with_a_deposit_is_kept(db_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "user", "remove", "bea", "--db", str(db_path))
    assert code == 1 and "deposit of 120 cents" in err and "POST /reset" in err
    code, out, _ = run_cli(capsys, "user", "list", "--db", str(db_path))
    assert "bea" in out


def test_product_remove_takes_any_sellers_product(db_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    first = _products(db_path)[0]
    code, out, _ = run_cli(capsys, "product", "remove", str(first["id"]), "--db", str(db_path))
    assert code == 0 and "slot A1" in out and "seller mallory" in out
    assert [p["slot"] for p in _products(db_path)] == ["A2", "A3"]
    code, _, err = run_cli(capsys, "product", "remove", str(first["id"]), "--db", str(db_path))
    assert code == 1 and "no such product" in err


def test_unknown_names_and_databases_are_clear_errors(
        db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "user", "remove", "nobody", "--db", str(db_path))
    assert code == 1 and "no account named 'nobody'" in err
    code, _, err = run_cli(capsys, "user", "list", "--db", str(tmp_path / "none.db"))
    assert code == 2 and "no such database" in err
    assert not (tmp_path / "none.db").exists()


def test_user_add_refuses_a_common_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("Password1\n"))
    code, _, err = run_cli(capsys, "user", "add", "root", "--role", "operator",
                           "--password-stdin", "--db", str(tmp_path / "v.db"))
    assert code == 1 and "common" in err
