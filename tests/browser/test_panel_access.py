"""The front panel for everyone, in headless Chromium against a real ``vending run``.

axe-core finds no serious or critical violation in any state a customer or a
developer brings the page to (idle, a sale under way and done, faults, offline,
a phone); the page has its final shape at the first paint (no layout shift);
its live regions speak only of changes; long product names can be read whole
and a tile never stretches its row.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import click, insert_coin, shot, text, texts, wait_for
from tests.browser.test_web_panel import lcd, open_panel
from tests.process import Server, login

pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
pytestmark = pytest.mark.timeout(120)

LONG_NAME = "Sparkling elderflower lemonade with fresh mint"

# every mutation of a live region, as the text it left (installed once the page is live)
WATCH_LIVE_REGIONS = """
window.spoken = {lcd: [], link: []};
for (const id of ["lcd", "link"]) {
  new MutationObserver(() => window.spoken[id].push(document.getElementById(id).textContent))
    .observe(document.getElementById(id), {childList: true, characterData: true, subtree: true});
}
"""


def add_long_product(server: Server) -> None:
    token = login(server, "sam", "seller-pass")
    server.call("POST", "/product", {"productName": LONG_NAME, "cost": 120,
                                     "amountAvailable": 4, "slot": "A3"}, token)


def settle(server: Server, browser: Any) -> None:
    """A coin in and back out: the acceptor has settled, the coins after it are taken."""
    insert_coin(server, 20)
    server.call("POST", "/sim/press", {"keys": "*"})
    server.call("POST", "/sim/tray/take", {})
    wait_for(browser, lambda: lcd(browser)[0] == "HELLO" and texts(browser, "#cup li") == [])


def test_every_panel_state_passes_axe(server: Server, browser: Any,
                                      axe: Callable[[str], list[Any]], tmp_path: Path) -> None:
    add_long_product(server)
    open_panel(browser, server)
    settle(server, browser)
    axe("the panel at rest")

    click(browser, '#coins button[data-coin="50"]')
    wait_for(browser, lambda: lcd(browser)[0] == "CREDIT 0.50")
    axe("the panel with credit")
    click(browser, '#keypad button[data-key="A"]')
    click(browser, '#keypad button[data-key="3"]')  # 1.20: the credit is short
    wait_for(browser, lambda: "A3" in " ".join(lcd(browser)))
    axe("the panel asking for more money, a long name shown whole")
    click(browser, '#coins button[data-coin="100"]')
    wait_for(browser, lambda: lcd(browser)[0] == "CREDIT 1.50")  # as a customer, who waits
    click(browser, '#keypad button[data-key="A"]')
    click(browser, '#keypad button[data-key="1"]')
    wait_for(browser, lambda: texts(browser, "#tray li") == ["Cola"])
    wait_for(browser, lambda: len(texts(browser, "#cup li")) > 0)
    axe("the panel after a sale, product in the tray and change in the cup")
    shot(browser, tmp_path, "panel-after-sale.png")

    server.call("POST", "/sim/fault", {"device": "slot:B2", "fault": "jam"})
    server.call("POST", "/sim/fault", {"device": "hopper:50", "fault": "empty"})
    click(browser, '#coins button[data-coin="100"]')
    wait_for(browser, lambda: lcd(browser)[0] == "CREDIT 1.00")
    click(browser, '#keypad button[data-key="B"]')
    click(browser, '#keypad button[data-key="2"]')
    wait_for(browser, lambda: "out of order" in text(browser, '.slot[data-slot="B2"]'))
    axe("the panel with a jammed slot")
    server.call("POST", "/sim/fault", {"device": "acceptor", "fault": "silent"})
    wait_for(browser, lambda: "acceptor" in text(browser, "#faults"))
    axe("the panel with a silent acceptor")
    shot(browser, tmp_path, "panel-faults.png")

    server.kill()
    wait_for(browser, lambda: text(browser, "#link") == "reconnecting…")
    axe("the panel while the machine is away")
    server.start()

    browser.set_window_size(390, 844)
    open_panel(browser, server)
    axe("the panel on a phone")


def test_the_panel_does_not_move_while_it_loads(server: Server, browser: Any) -> None:
    browser.get(f"http://127.0.0.1:{server.port}/")
    wait_for(browser, lambda: "Cola" in text(browser, '.slot[data-slot="A1"]'))
    wait_for(browser, lambda: " 20" in text(browser, '#hoppers tr[data-coin="100"]'))
    shift = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        let total = 0;
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) if (!e.hadRecentInput) total += e.value;
        }).observe({type: "layout-shift", buffered: true});
        setTimeout(() => done(total), 300);""")
    assert shift < 0.02, f"the page moved while it loaded (layout shift {shift:.3f})"


def test_live_regions_speak_only_of_changes(server: Server, browser: Any) -> None:
    open_panel(browser, server)
    settle(server, browser)
    browser.execute_script(WATCH_LIVE_REGIONS)
    for _ in range(2):
        click(browser, '#coins button[data-coin="20"]')
        wait_for(browser, lambda: lcd(browser)[0] == "CREDIT 0.20")
        click(browser, '#keypad button[data-key="*"]')  # coin back
        wait_for(browser, lambda: texts(browser, "#cup li") == ["0.20"])
        wait_for(browser, lambda: lcd(browser)[0] == "HELLO")
        click(browser, "#take")
        wait_for(browser, lambda: texts(browser, "#cup li") == [])
    said = browser.execute_script("return window.spoken")
    assert said["link"] == [], "the connection indicator spoke while it stayed live"
    lines = said["lcd"]
    assert len(lines) >= 4, lines  # the display did change
    repeats = [a for a, b in itertools.pairwise(lines) if a == b]
    assert repeats == [], f"the display region repeated itself: {lines}"


def test_long_names_and_tiles_that_keep_their_row(server: Server, browser: Any,
                                                   tmp_path: Path) -> None:
    add_long_product(server)
    browser.set_window_size(390, 844)
    open_panel(browser, server)
    server.call("POST", "/sim/fault", {"device": "slot:A1", "fault": "jam"})
    insert_coin(server, 100)
    wait_for(browser, lambda: lcd(browser)[0] == "CREDIT 1.00")
    server.call("POST", "/sim/press", {"keys": "A1"})
    wait_for(browser, lambda: "out of order" in text(browser, '.slot[data-slot="A1"]'))
    heights = browser.execute_script(
        "return [...document.querySelectorAll('.slot')].map(e => e.offsetHeight);")
    assert len(set(heights)) == 1, f"tiles of different heights: {heights}"
    name = '.slot[data-slot="A3"]'
    assert browser.find_element("css selector", name).get_attribute("title") == LONG_NAME
    cut = "const n = document.querySelector(arguments[0] + ' .name');" \
          "return n.scrollWidth > n.clientWidth;"
    assert browser.execute_script(cut, name)  # cut while another slot is on the display
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).move_to_element(browser.find_element("css selector", name)).perform()
    assert not browser.execute_script(cut, name), "hovering does not show the whole name"
    ActionChains(browser).move_to_element(browser.find_element("css selector", "h1")).perform()
    assert browser.execute_script(cut, name)
    server.call("POST", "/sim/press", {"keys": "A3"})
    wait_for(browser, lambda: "selected" in browser.find_element(
        "css selector", name).get_attribute("class"))
    assert not browser.execute_script(cut, name), "the selected tile still cuts its name"
    row_a = browser.execute_script(
        "return [...document.querySelectorAll('.slot')].slice(0, 6)"
        ".map(e => e.getBoundingClientRect().top);")
    assert len(set(row_a)) == 1
    shot(browser, tmp_path, "panel-long-name.png")
