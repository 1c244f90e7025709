"""The console and the front panel of a machine with an MDB changer, bill validator and
card reader, in headless Chromium against a real ``vending run``: the tubes, the bill
stacker and each device's identity on the console; the bill slot, returned bills and
the card on the panel; axe-core finds nothing serious on either."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import click, shot, text, texts, type_into, wait_for
from tests.browser.test_console import log_in
from tests.browser.test_web_panel import open_panel
from tests.process import Server

pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
pytestmark = pytest.mark.timeout(150)

MDB_TOML = """
[mdb]
[acceptor]
kind = "mdb"
[bills]
kind = "mdb"
accept_cents = [500, 1000]
[cashless]
kind = "mdb"
"""


@pytest.fixture
def server_args(tmp_path: Path) -> tuple[str, ...]:
    config = tmp_path / "mdb.toml"
    config.write_text(MDB_TOML)
    return ("--sim", "--config", str(config))


def devices_ready(browser: Any) -> bool:
    lines = texts(browser, "#devices li")
    return len(lines) == 3 and all("(working)" in line or "(enabled)" in line or
                                   "(idle)" in line for line in lines)


def test_the_console_shows_tubes_stacker_and_identities(
        server: Server, browser: Any, axe: Callable[[str], list[Any]], tmp_path: Path) -> None:
    log_in(browser, server)
    wait_for(browser, lambda: not browser.find_element("id", "mdb-card").get_attribute("hidden"))
    wait_for(browser, lambda: devices_ready(browser))
    lines = texts(browser, "#devices li")
    assert [line.split(":")[0] for line in lines] == [
        "coin changer (MDB)", "bill validator (MDB)", "card reader (MDB)"]
    assert "SIM-BILLS" in lines[1] and "serial" in lines[1]
    headers = texts(browser, "#tubes thead th")
    assert headers == ["Coin", "Coins", "Full", "Fault"]
    wait_for(browser, lambda: len(texts(browser, "#tubes tbody tr")) >= 1)
    first = texts(browser, "#tubes tbody tr:first-child > *")
    assert first == ["0.05", "20", "no", "none"]
    assert text(browser, "#stacker-accepts") == "5.00, 10.00"
    assert text(browser, "#stacker-value") == "0.00"
    axe("the console of an MDB machine")

    assert server.call("POST", "/sim/bill", {"bill": 500})["result"] == "stacked"
    wait_for(browser, lambda: text(browser, "#stacker-value") == "5.00")
    shot(browser, tmp_path, "console-mdb.png")
    axe("the console with a bill stacked")


def test_the_console_of_a_machine_without_mdb_shows_nothing_more(browser: Any,
                                                                 tmp_path: Path) -> None:
    from tests.browser.conftest import OPERATOR
    from tests.process import cli

    db = tmp_path / "plain.db"
    name, password = OPERATOR
    assert cli(db, "user", "add", name, "--role", "operator", "--password-stdin",
               stdin=password + "\n").returncode == 0
    plain = Server(db)
    plain.start()
    try:
        log_in(browser, plain)
        wait_for(browser, lambda: len(texts(browser, "#devices li")) >= 1)
        assert browser.find_element("id", "mdb-card").get_attribute("hidden") is not None
        assert not any("MDB" in line for line in texts(browser, "#devices li"))
    finally:
        plain.stop()


def test_the_panel_takes_bills_and_cards(server: Server, browser: Any,
                                         axe: Callable[[str], list[Any]], tmp_path: Path) -> None:
    server.call("POST", "/product", {"productName": "Water", "cost": 100,
                                     "amountAvailable": 2, "slot": "A2"},
                _seller(server))
    open_panel(browser, server)
    wait_for(browser, lambda: not browser.find_element("id", "bill-slot").get_attribute("hidden"))
    assert texts(browser, "#bills button") == ["5.00", "10.00"]
    wait_for(browser, lambda: not browser.find_element("id", "card-form")
             .get_attribute("hidden"))
    axe("the panel of an MDB machine at rest")

    wait_for(browser, lambda: _bill_taken(browser, "500"))
    wait_for(browser, lambda: text(browser, "#credit") == "5.00")
    click(browser, '#bills button[data-bill="1000"]')  # 15.00 is past max_credit
    wait_for(browser, lambda: texts(browser, "#bill-return li") == ["10.00 bill"])
    axe("the panel with a bill returned")

    type_into(browser, "#card-funds", "abc")
    click(browser, "#card")
    wait_for(browser, lambda: "Card funds" in text(browser, "#message"))
    assert browser.find_element("id", "card-funds").get_attribute("aria-invalid") == "true"
    type_into(browser, "#card-funds", "7.50")
    click(browser, "#card")
    wait_for(browser, lambda: "presented" in text(browser, "#message"))
    state = server.call("GET", "/sim/state")
    assert state["card"]["present"] is True
    shot(browser, tmp_path, "panel-mdb.png")
    axe("the panel with a card presented")


def _bill_taken(browser: Any, bill: str) -> bool:
    """Click the bill until the validator stacks it (it may still be starting)."""
    click(browser, f'#bills button[data-bill="{bill}"]')
    return wait_for(browser, lambda: "bill 5.00:" in text(browser, "#message"), 5) and \
        "stacked" in text(browser, "#message")


def _seller(server: Server) -> str:
    from tests.process import login

    return login(server, "sam", "seller-pass")
