"""The web front panel in a real headless Chromium against a real ``vending run``.

A customer's sale done only with clicks: coin, keys, the LCD following the
vend without a reload, product and change in the tray and the cup, hoppers
and cashbox following the coins; a fault switched on from the page; the page
finding the machine again after the machine was killed and restarted; a
phone-sized screen.  Screenshots go to each test's temporary folder.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import (
    click,
    severe_errors,
    shot,
    text,
    texts,
    wait_for,
)
from tests.process import Server

pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
pytestmark = pytest.mark.timeout(120)


def lcd(browser: Any) -> tuple[str, str]:
    return text(browser, "#lcd1").strip(), text(browser, "#lcd2").strip()


def hopper(browser: Any, coin: int) -> str:
    return text(browser, f'#hoppers tr[data-coin="{coin}"]')


def open_panel(browser: Any, server: Server) -> None:
    browser.get(f"http://127.0.0.1:{server.port}/")
    wait_for(browser, lambda: text(browser, "#link") == "live")
    wait_for(browser, lambda: "Cola" in text(browser, '.slot[data-slot="A1"]'))
    browser.execute_script("window.notReloaded = true")


def polled(browser: Any) -> list[str]:
    """Requests the page made to read the machine (a page that polls makes them)."""
    return list(browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => /\\/(sim\\/state|product|machine)\\b/.test(n));"))


def test_a_sale_with_clicks_only(server: Server, browser: Any, tmp_path: Path) -> None:
    open_panel(browser, server)
    assert "Vending machine" in browser.title
    assert len(texts(browser, ".slot")) == 24
    assert "0.65" in text(browser, '.slot[data-slot="A1"]')
    assert "3 left" in text(browser, '.slot[data-slot="A1"]')
    assert text(browser, "#state") == "idle"
    assert "20" in hopper(browser, 100) and text(browser, "#cashbox-total") == "0.00"

    started = time.monotonic()
    click(browser, '#coins button[data-coin="100"]')
    wait_for(browser, lambda: lcd(browser)[0] == "CREDIT 1.00")
    assert text(browser, "#state") == "credit" and text(browser, "#credit") == "1.00"
    wait_for(browser, lambda: " 21" in hopper(browser, 100))  # the coin went to its hopper
    click(browser, '#keypad button[data-key="A"]')
    click(browser, '#keypad button[data-key="1"]')
    # the page follows the vend live: product in the tray, 0.35 in change in the cup
    wait_for(browser, lambda: texts(browser, "#tray li") == ["Cola"])
    wait_for(browser, lambda: sorted(texts(browser, "#cup li")) == ["0.05", "0.10", "0.20"])
    wait_for(browser, lambda: text(browser, "#state") == "idle")
    wait_for(browser, lambda: "2 left" in text(browser, '.slot[data-slot="A1"]'))
    wait_for(browser, lambda: " 19" in hopper(browser, 20) and " 19" in hopper(browser, 5))
    assert server.call("GET", "/sim/state")["tray"] == ["Cola"]
    shot(browser, tmp_path, "panel-sale.png")

    click(browser, "#take")
    wait_for(browser, lambda: texts(browser, "#tray li") == [] and texts(browser, "#cup li") == [])
    assert server.call("GET", "/sim/state")["returned"] == []

    # coin return from the keypad's * key
    click(browser, '#coins button[data-coin="50"]')
    wait_for(browser, lambda: lcd(browser)[0] == "CREDIT 0.50")
    click(browser, '#keypad button[data-key="*"]')
    wait_for(browser, lambda: texts(browser, "#cup li") == ["0.50"])
    wait_for(browser, lambda: lcd(browser)[0] != "CREDIT 0.50")

    assert browser.execute_script("return window.notReloaded") is True
    assert polled(browser) == [], "the page read the machine by HTTP"
    assert time.monotonic() - started < 30
    assert severe_errors(browser) == []


def test_fault_switchboard_and_errors(server: Server, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    open_panel(browser, server)
    device = browser.find_element(By.ID, "fault-device")
    device.find_element(By.CSS_SELECTOR, 'option[value="slot:A1"]').click()
    names = [o.get_attribute("value") for o in
             browser.find_elements(By.CSS_SELECTOR, "#fault-name option")]
    assert names == ["jam", "jam_turn", "no_drop", "clear"]
    browser.find_element(By.CSS_SELECTOR, '#fault-name option[value="jam"]').click()
    click(browser, "#fault-apply")
    wait_for(browser, lambda: text(browser, "#message") == "slot:A1: jam")

    click(browser, '#coins button[data-coin="100"]')
    wait_for(browser, lambda: lcd(browser)[0] == "CREDIT 1.00")
    click(browser, '#keypad button[data-key="A"]')
    click(browser, '#keypad button[data-key="1"]')
    # a jammed spiral: no charge, the credit stays, another selection is asked for
    wait_for(browser, lambda: lcd(browser) == ("MAKE ANOTHER", "SELECTION"))
    wait_for(browser, lambda: "out of order" in text(browser, '.slot[data-slot="A1"]'))
    wait_for(browser, lambda: lcd(browser)[0] == "CREDIT 1.00")
    assert texts(browser, "#tray li") == []
    shot(browser, tmp_path, "panel-jam.png")

    # the acceptor list offers the acceptor's faults
    device.find_element(By.CSS_SELECTOR, 'option[value="acceptor"]').click()
    names = [o.get_attribute("value") for o in
             browser.find_elements(By.CSS_SELECTOR, "#fault-name option")]
    assert "jam" in names and "bad_checksum" in names and names[-1] == "clear"


def test_the_page_finds_a_restarted_machine_by_itself(server: Server, browser: Any,
                                                      tmp_path: Path) -> None:
    open_panel(browser, server)
    server.call("POST", "/sim/coin", {"coin": 20})
    wait_for(browser, lambda: lcd(browser)[0] == "CREDIT 0.20")
    server.asked_port = server.port  # the machine comes back at the address the page knows
    server.kill()
    wait_for(browser, lambda: text(browser, "#link") == "reconnecting…")
    assert text(browser, "#state") == "offline"
    shot(browser, tmp_path, "panel-reconnecting.png")
    server.start()
    wait_for(browser, lambda: text(browser, "#link") == "live", timeout_s=20)
    # the credit survived the power cut, and the page shows the machine as it is now
    wait_for(browser, lambda: lcd(browser)[0] == "CREDIT 0.20")
    click(browser, '#coins button[data-coin="50"]')
    wait_for(browser, lambda: lcd(browser)[0] == "CREDIT 0.70")
    assert browser.execute_script("return window.notReloaded") is True


def test_phone_sized_screen_and_keyboard(server: Server, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    browser.set_window_size(390, 844)
    open_panel(browser, server)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a phone"
    # keyboard only: the coin buttons and keys are reachable with Tab and pressed with Enter
    coin = browser.find_element("css selector", '#coins button[data-coin="10"]')
    coin.send_keys(Keys.ENTER)
    wait_for(browser, lambda: lcd(browser)[0] == "CREDIT 0.10")
    browser.execute_script("document.activeElement.blur()")
    focusable = browser.execute_script(
        "return [...document.querySelectorAll('button, select, a[href]')]"
        ".filter(e => e.tabIndex >= 0).length")
    assert focusable >= 16 + 5 + 3
    shot(browser, tmp_path, "panel-phone.png")
