"""The operator's round in the console, in a real headless Chromium against ``vending run``:
the sales chart (drawn by the vendored uPlot) and top products, following sales live; the
pick list with a minimum level set from it, low slots marked, its print view; on a phone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import click, severe_errors, shot, text, texts, type_into, wait_for
from tests.browser.test_console import logged_in
from tests.process import Server, login

pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
pytestmark = pytest.mark.timeout(150)


def buy_cola(server: Server, token: str) -> None:
    """A buyer pays 0.70 for Cola (0.65) in A1 through the API: the machine vends it."""
    for coin in (50, 20):
        server.call("POST", "/deposit", {"coin": coin}, token)
    cola = next(p for p in server.call("GET", "/product") if p["slot"] == "A1")
    server.call("POST", "/buy", {"productId": cola["id"], "amount": 1}, token)
    server.call("POST", "/sim/tray/take", {})


def js(browser: Any, script: str, *args: Any) -> Any:
    return browser.execute_script(script, *args)


def shown(browser: Any, css: str) -> bool:
    return bool(js(browser, "const e = document.querySelector(arguments[0]);"
                            "return !!e && getComputedStyle(e).display !== 'none';", css))


def chart_total(browser: Any) -> str:
    return str(js(browser, "return document.getElementById('sales-chart').dataset.total || ''"))


def test_sales_chart_and_pick_list(server: Server, browser: Any, tmp_path: Path) -> None:
    server.call("POST", "/user", {"username": "bea", "password": "buyer-pass-1",
                                  "role": "buyer"})
    buyer = login(server, "bea", "buyer-pass-1")
    buy_cola(server, buyer)
    buy_cola(server, buyer)

    logged_in(browser, server)
    wait_for(browser, lambda: chart_total(browser) == "130")
    assert js(browser, "return document.querySelectorAll('#sales-chart canvas').length") == 1
    assert "2 sold, 1.30" in text(browser, "#sales-summary")
    assert "Today, per hour" in text(browser, "#sales-summary")
    top = texts(browser, "#top-products li")
    assert len(top) == 1 and "Cola" in top[0] and "2 sold · 1.30" in top[0]
    assert "cash 2 (1.30)" in text(browser, "#sales-media")

    # the pick list: what fills each slot, in total, and the hoppers
    wait_for(browser, lambda: text(browser, '#picklist tr[data-slot="A1"] .bring') == "9")
    assert text(browser, '#picklist tr[data-slot="B2"] .bring') == "4"
    assert "Cola: 9" in texts(browser, "#picklist-products li")
    assert any("0.10: 180 coins" in c for c in texts(browser, "#picklist-coins li"))
    assert not js(browser, "return !!document.querySelector('#picklist tr.low, #slots tr.low')")

    # a minimum level set from the pick list: A1 (1 left) is low, here and in the slot table
    type_into(browser, '#picklist tr[data-slot="A1"] input', "1")
    click(browser, '#picklist tr[data-slot="A1"] button')
    wait_for(browser, lambda: "A1: low at 1" in text(browser, "#picklist-message"))
    wait_for(browser, lambda: shown(browser, '#picklist tr.low[data-slot="A1"]'))
    wait_for(browser, lambda: shown(browser, '#slots tr.low[data-slot="A1"]'))
    assert "low" in text(browser, '#picklist tr[data-slot="A1"]').lower()
    assert server.call("GET", "/product")[0]["minLevel"] == 1
    shot(browser, tmp_path, "round-desk.png")

    # a sale at the machine: the chart, the top products and the pick list follow it live
    buy_cola(server, buyer)
    wait_for(browser, lambda: chart_total(browser) == "195")
    wait_for(browser, lambda: text(browser, '#picklist tr[data-slot="A1"] .bring') == "10")
    assert "3 sold" in texts(browser, "#top-products li")[0]

    click(browser, "#sales-month")
    wait_for(browser, lambda: js(browser, "return document.getElementById('sales-chart')"
                                          ".dataset.bars") == "30")
    assert "30 days" in text(browser, "#sales-summary")
    assert js(browser, "return document.getElementById('sales-month')"
                       ".getAttribute('aria-pressed')") == "true"

    # the print view: the pick list alone, with Print and Back
    click(browser, "#picklist-view")
    assert shown(browser, "#picklist-card") and shown(browser, "#picklist-print")
    for gone in ("#sales-card", ".slots-card", ".coins-card", "header.bar"):
        assert not shown(browser, gone), gone
    assert "Pick list, " in text(browser, "#picklist-stamp")
    shot(browser, tmp_path, "round-print-view.png")
    click(browser, "#picklist-back")
    assert shown(browser, "#sales-card") and not shown(browser, "#picklist-print")
    assert severe_errors(browser) == []


def test_the_round_on_a_phone(server: Server, browser: Any, tmp_path: Path) -> None:
    browser.set_window_size(390, 844)
    logged_in(browser, server)
    wait_for(browser, lambda: js(browser, "return document.querySelectorAll("
                                          "'#sales-chart canvas').length") == 1)
    wait_for(browser, lambda: text(browser, '#picklist tr[data-slot="A1"] .bring') == "7")
    width = js(browser, "return document.documentElement.clientWidth")
    assert js(browser, "return document.documentElement.scrollWidth") <= width
    canvas = js(browser, "return document.querySelector('#sales-chart canvas')"
                         ".getBoundingClientRect().width")
    assert 200 <= canvas <= width
    # each pick list row is a card saying what each figure is
    labels = js(browser, "return [...document.querySelectorAll("
                         "'#picklist tr[data-slot=\"A1\"] td')].map(td => td.dataset.label)")
    assert labels == ["Product", "Stock", "Low at", "Bring"]
    shot(browser, tmp_path, "round-phone.png")
    assert severe_errors(browser) == []
