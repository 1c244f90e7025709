"""The ``vending`` command: user add, audit --verify on a tampered ledger, check-config,
and a clean stop of ``vending run`` on SIGTERM and SIGINT."""

from __future__ import annotations

import io
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from controller import cli
from controller.store import open_db
from controller.store.db import seed
from tests.dex_reader import read_dex
from tests.process import Server


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def seeded_db(path: Path) -> Path:
    db = open_db(path)
    seed(db.conn, slots=[("A1", 10)], hoppers={c: 200 for c in (5, 10, 20, 50, 100)},
         hopper_fill=20)
    db.conn.close()
    return path


def test_user_add_reads_the_password_from_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "v.db"
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-password\n"))
    code, out, _ = run_cli(capsys, "user", "add", "alice", "--role", "operator",
                           "--password-stdin", "--db", str(db))
    assert code == 0 and "operator alice" in out
    row = sqlite3.connect(db).execute("SELECT role, password_hash FROM users").fetchone()
    assert row[0] == "operator" and row[1].startswith("scrypt$") and "a-long" not in row[1]
    monkeypatch.setattr(sys, "stdin", io.StringIO("another-password\n"))
    code, _, err = run_cli(capsys, "user", "add", "ALICE", "--role", "buyer",
                           "--password-stdin", "--db", str(db))
    assert code == 1 and "taken" in err


def test_audit_verify_passes_then_fails_on_a_tampered_ledger(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = seeded_db(tmp_path / "v.db")
    code, out, err = run_cli(capsys, "audit", "--verify", "--db", str(db))
    assert code == 0, err
    assert out.startswith("DXS*RPV0000001*VA*V0/6*1\r\n") and "G85*" in out
    assert "ledger identities hold" in err
    conn = sqlite3.connect(db)
    conn.execute("UPDATE coins SET payout = payout + 1 WHERE coin = 50")  # a coin from nowhere
    conn.commit()
    conn.close()
    code, _, err = run_cli(capsys, "audit", "--verify", "--db", str(db))
    assert code == 1 and "FAIL" in err and "do NOT hold" in err


def test_every_audit_from_the_cli_is_a_counted_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = seeded_db(tmp_path / "v.db")
    reads = []
    for _ in range(2):
        code, out, err = run_cli(capsys, "audit", "--db", str(db))
        assert code == 0, err
        ea3 = read_dex(out).singles["EA3"]
        reads.append((ea3["EA309"], ea3["EA310"]))
    assert reads == [("1", "0"), ("2", "0")]
    assert sqlite3.connect(db).execute("SELECT reads FROM audit_reads").fetchone()[0] == 2


@pytest.mark.parametrize("order", ["before", "after"])
def test_common_options_before_or_after_the_subcommand(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], order: str) -> None:
    db = seeded_db(tmp_path / "v.db")
    args = ["--db", str(db), "audit", "--verify"] if order == "before" else \
        ["audit", "--verify", "--db", str(db)]
    code, _, err = run_cli(capsys, *args)
    assert code == 0 and "ledger identities hold" in err


def test_audit_verify_catches_credit_from_nowhere(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    db = seeded_db(tmp_path / "v.db")
    conn = sqlite3.connect(db)
    conn.execute("UPDATE panel SET credit = 100")
    conn.commit()
    conn.close()
    code, _, err = run_cli(capsys, "audit", "--verify", "--db", str(db))
    assert code == 1 and "sales + outstanding credit" in err


def test_check_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[machine]\nmachine_id = "PI7"\n')
    code, out, _ = run_cli(capsys, "check-config", str(good))
    assert code == 0 and "machine PI7" in out and "config OK" in out
    assert "audit report (EVA-DTS) from RPV0000007" in out and "currency code 1978" in out
    bad = tmp_path / "bad.toml"
    bad.write_text("[api]\nprot = 8080\n")
    code, _, err = run_cli(capsys, "check-config", str(bad))
    assert code == 2 and "prot" in err and str(bad) in err


def test_check_config_refuses_a_pin_collision_on_a_real_machine(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pi = tmp_path / "pi.toml"
    pi.write_text("[machine]\nsimulated = false\n[motors]\ncam_pin = 9\n")
    code, _, err = run_cli(capsys, "check-config", str(pi))
    assert code == 2 and "GPIO9 (cam switch, keypad column 1)" in err
    example = Path(__file__).resolve().parents[2] / "systemd" / "vending.toml"
    code, out, _ = run_cli(capsys, "check-config", str(example))
    assert code == 0 and "config OK" in out


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_answers_health_and_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    server = Server(tmp_path / "v.db")  # port 0: the kernel picks, the log says which
    try:
        server.start()
        assert server.call("GET", "/health") == {"status": "ok", "state": "idle"}
        assert server.proc is not None
        server.proc.send_signal(sig)
        assert server.proc.wait(15) == 0
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert "stopping" in log and "Traceback" not in log


@pytest.mark.timeout(60)
def test_one_process_per_machine_and_a_clear_word_on_a_busy_port(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    first = Server(db)
    try:
        first.start()
        assert first.proc is not None
        # the same database (the same machine): refused before any device is touched
        second = subprocess.run([sys.executable, "-m", "controller.cli", "run", "--db",
                                 str(db), "--port", "0"],
                                capture_output=True, text=True, timeout=30, check=False)
        assert second.returncode == 1
        assert f"another vending process (pid {first.proc.pid}) runs this machine" \
            in second.stderr
        # another machine on the port the first one holds: a message, not a traceback
        third = subprocess.run([sys.executable, "-m", "controller.cli", "run", "--db",
                                str(tmp_path / "other.db"), "--port", str(first.port)],
                               capture_output=True, text=True, timeout=30, check=False)
        assert third.returncode == 2, third.stderr
        assert f"cannot serve on 127.0.0.1:{first.port}" in third.stderr
        assert "Traceback" not in third.stderr
    finally:
        first.stop()


@pytest.mark.parametrize("stdin", [subprocess.DEVNULL, "a-long-password\n"])
def test_user_add_without_a_terminal_says_to_use_password_stdin(tmp_path: Path,
                                                                stdin: object) -> None:
    db = tmp_path / "v.db"
    done = subprocess.run([sys.executable, "-m", "controller.cli", "user", "add", "alice",
                           "--role", "operator", "--db", str(db)],
                          stdin=stdin if stdin is subprocess.DEVNULL else None,
                          input=None if stdin is subprocess.DEVNULL else stdin,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "EOFError" not in done.stderr
    assert "no terminal" in done.stderr and "--password-stdin" in done.stderr
    assert not db.exists()
