"""What operators asked of the console, in headless Chromium against a real ``vending run``.

A refill typed as the coins added as well as the count; the stock's "/ 10"
beside its field at any width; a success message that gives way to a new
fault; event-log lines that read as sentences and open to their raw data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import click, insert_coin, shot, text, type_into, wait_for
from tests.browser.test_console import event_kinds, logged_in, row
from tests.browser.test_console_access import field_message
from tests.process import Server

pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
pytestmark = pytest.mark.timeout(120)

ADDED_50 = 'tr[data-coin="50"] input#added-50'
COUNT_50 = 'tr[data-coin="50"] input#count-50'


def value(browser: Any, css: str) -> str:
    return str(browser.find_element("css selector", css).get_attribute("value"))


def hopper_50(server: Server) -> int:
    return int(next(c["payout"] for c in machine(server)["coins"] if c["coin"] == 50))


def machine(server: Server) -> dict[str, Any]:
    from tests.process import login

    token = login(server, "oper", "operator-pass-1")
    try:
        state: dict[str, Any] = server.call("GET", "/machine", None, token)
        return state
    finally:
        server.call("POST", "/logout", None, token)


def test_a_refill_as_coins_added(server: Server, browser: Any, tmp_path: Path) -> None:
    logged_in(browser, server)
    assert value(browser, COUNT_50) == "20"
    type_into(browser, ADDED_50, "30")
    wait_for(browser, lambda: value(browser, COUNT_50) == "50")  # the count follows
    shot(browser, tmp_path, "console-refill.png")
    click(browser, 'tr[data-coin="50"] button')
    wait_for(browser, lambda: "50 / 200" in row(browser, 'tr[data-coin="50"]'))
    assert text(browser, "#message") == "0.50 hopper: 50 coins (+30)"
    assert value(browser, ADDED_50) == "" and value(browser, COUNT_50) == "50"
    assert hopper_50(server) == 50

    # too many: said in coins added, next to that field, and nothing changes
    type_into(browser, ADDED_50, "151")
    click(browser, 'tr[data-coin="50"] button')
    wait_for(browser, lambda: field_message(browser, ADDED_50)[0] == "true")
    assert field_message(browser, ADDED_50)[1] == (
        "Coins added to the 0.50 hopper: at most 150 more fit (it holds 50 of 200).")
    assert hopper_50(server) == 50
    # the count typed instead: the added field follows, and the count is what is sent
    type_into(browser, COUNT_50, "45")
    wait_for(browser, lambda: value(browser, ADDED_50) == "-5")
    click(browser, 'tr[data-coin="50"] button')
    wait_for(browser, lambda: "45 / 200" in row(browser, 'tr[data-coin="50"]'))
    assert field_message(browser, ADDED_50)[0] is None
    assert text(browser, "#message") == "0.50 hopper: 45 coins (−5)"


def test_coins_added_count_from_the_hopper_as_it_is(server: Server, browser: Any) -> None:
    logged_in(browser, server)
    type_into(browser, ADDED_50, "10")
    wait_for(browser, lambda: value(browser, COUNT_50) == "30")
    insert_coin(server, 50)  # a customer's coin lands meanwhile
    wait_for(browser, lambda: "21 / 200" in row(browser, 'tr[data-coin="50"]'))
    assert value(browser, COUNT_50) == "31" and value(browser, ADDED_50) == "10"
    click(browser, 'tr[data-coin="50"] button')
    wait_for(browser, lambda: "31 / 200" in row(browser, 'tr[data-coin="50"]'))
    assert hopper_50(server) == 31


@pytest.mark.parametrize("width", [1280, 900, 390])
def test_the_stock_capacity_stays_beside_its_field(server: Server, browser: Any,
                                                   width: int) -> None:
    browser.set_window_size(width, 900)
    logged_in(browser, server)
    apart = browser.execute_script(
        "const tr = document.querySelector('tr[data-slot=\"A1\"]');"
        "const a = tr.stock.getBoundingClientRect(), b = tr.cap.getBoundingClientRect();"
        "return [b.top >= a.bottom, b.left < a.right];")
    assert apart == [False, False], "the '/ 10' wrapped under its field"


def test_a_new_fault_replaces_a_success_message(server: Server, browser: Any) -> None:
    logged_in(browser, server)
    click(browser, "#collect")
    wait_for(browser, lambda: text(browser, "#message") == "Collected 0.00 from the cashbox")
    server.call("POST", "/sim/fault", {"device": "acceptor", "fault": "silent"})
    wait_for(browser, lambda: text(browser, "#message").startswith("New fault: acceptor"))
    assert "message ok" not in str(browser.find_element("css selector", "#message")
                                   .get_attribute("class"))


def test_event_log_lines_are_sentences_with_the_raw_data_a_click_away(
        server: Server, browser: Any) -> None:
    logged_in(browser, server)
    type_into(browser, ADDED_50, "30")
    click(browser, 'tr[data-coin="50"] button')
    wait_for(browser, lambda: "hopper_adjusted" in event_kinds(browser))
    line = '#events li[data-kind="hopper_adjusted"]'
    assert text(browser, f"{line} summary") == \
        "The 0.50 hopper was set to 50 coins (+30 from 20)."
    raw = browser.find_element("css selector", f"{line} .data")
    assert not raw.is_displayed()
    click(browser, f"{line} summary")
    wait_for(browser, raw.is_displayed)
    assert raw.text == "hopper_adjusted  after=50  before=20  coin=50"
    insert_coin(server, 100)
    wait_for(browser, lambda: "coin_accepted" in event_kinds(browser))
    assert text(browser, '#events li[data-kind="coin_accepted"] summary') == \
        "A 1.00 coin was taken for the front panel's credit; it went to its hopper."
    sentences = browser.execute_script(
        "return [...document.querySelectorAll('#events summary')].map(s => s.textContent);")
    assert all(s.endswith(".") and "=" not in s for s in sentences), sentences
