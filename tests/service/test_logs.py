"""Log lines: one per meaningful event, journald priorities, no tracebacks for faults."""

from __future__ import annotations

import io
import logging
import os
import time
from pathlib import Path

import pytest

from controller.ops.logs import JournalFormatter, to_journal
from tests.process import Server, cli, login


def test_journal_lines_carry_their_priority_on_every_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None,
                                   exc_info=__import__("sys").exc_info())
    text = JournalFormatter().format(record)
    assert text.splitlines()[0] == "<3>x: failed"
    assert all(line.startswith("<3>") for line in text.splitlines())


def test_journal_stream_is_recognised_by_device_and_inode(tmp_path: Path) -> None:
    with open(tmp_path / "out", "w") as out:
        st = os.fstat(out.fileno())
        assert to_journal(out, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        assert not to_journal(out, {"JOURNAL_STREAM": "1:2"})
        assert not to_journal(out, {})
    assert not to_journal(io.StringIO(), {"JOURNAL_STREAM": "1:2"})


def test_bad_log_level_is_refused(tmp_path: Path) -> None:
    result = cli(tmp_path / "v.db", "run", "--log-level", "chatty")
    assert result.returncode == 2 and "--log-level" in result.stderr


@pytest.mark.timeout(60)
def test_a_sale_and_a_fault_in_the_journal(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    log_path.touch()
    st = log_path.stat()
    server = Server(tmp_path / "vending.db",
                    env={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
    server.start()
    try:
        server.call("POST", "/user", {"username": "sam", "password": "seller-pass",
                                      "role": "seller"})
        seller = login(server, "sam", "seller-pass")
        server.call("POST", "/product", {"productName": "Cola", "cost": 65,
                                         "amountAvailable": 10, "slot": "A1"}, seller)
        server.call("POST", "/sim/coin", {"coin": 100})
        server.call("POST", "/sim/press", {"keys": "A1"})
        server.call("POST", "/sim/fault", {"device": "acceptor", "fault": "silent"})
        deadline = time.monotonic() + 10
        while "coin acceptor not answering" not in log_path.read_text() \
                and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.stop()
    lines = log_path.read_text().splitlines()
    assert lines and all(line[:3] in ("<3>", "<4>", "<6>") for line in lines), lines
    assert "<6>vending.events: coin 1.00 credited to panel (hopper)" in lines
    assert "<6>vending.events: vend A1 paid (0.65)" in lines
    assert "<6>vending.events: paid 0.35 to panel in 3 coin(s)" in lines
    assert any(line.startswith("<3>") and "coin acceptor not answering" in line
               for line in lines)
    assert not any("Traceback" in line for line in lines)
