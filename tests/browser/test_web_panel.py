"""The web front panel in a real headless Chromium against a real ``vending run``.

A customer's sale done only with clicks: coin, keys, the LCD following the
vend, product and change in the tray and the cup, taking them, and a fault
switched on from the page.  Needs Chromium and its driver (Debian:
``apt-get install chromium chromium-driver``); without them the test is skipped
and says so.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.process import Server, free_port, login

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="Chromium and chromedriver are not installed"),
    pytest.mark.timeout(120),
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "vending.db", free_port())
    server.start()
    try:
        server.call("POST", "/user", {"username": "sam", "password": "seller-pass",
                                      "role": "seller"})
        token = login(server, "sam", "seller-pass")
        server.call("POST", "/product", {"productName": "Cola", "cost": 65,
                                         "amountAvailable": 3, "slot": "A1"}, token)
        yield server
    finally:
        server.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)),
                              options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(browser: Any, what: Callable[[], Any], timeout_s: float = 10) -> Any:
    return WebDriverWait(browser, timeout_s, poll_frequency=0.05).until(lambda _d: what())


def text(browser: Any, css: str) -> str:
    # read in one script call: the page redraws while it follows the machine
    return str(browser.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", css))


def items(browser: Any, list_id: str) -> list[str]:
    return list(browser.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);",
        f"#{list_id} li"))


def lcd(browser: Any) -> tuple[str, str]:
    return text(browser, "#lcd1").strip(), text(browser, "#lcd2").strip()


def click(browser: Any, css: str) -> None:
    browser.find_element(By.CSS_SELECTOR, css).click()


def test_a_sale_with_clicks_only(server: Server, browser: Any) -> None:
    browser.get(f"http://127.0.0.1:{server.port}/")
    assert "Vending machine" in browser.title
    assert len(browser.find_elements(By.CSS_SELECTOR, ".slot")) == 24
    wait_for(browser, lambda: "Cola" in text(browser, '.slot[data-slot="A1"]'))
    assert "0.65" in text(browser, '.slot[data-slot="A1"]')
    assert "3 left" in text(browser, '.slot[data-slot="A1"]')
    wait_for(browser, lambda: text(browser, "#state") == "idle")

    click(browser, '#coins button[data-coin="100"]')
    wait_for(browser, lambda: lcd(browser)[0] == "CREDIT 1.00")
    assert text(browser, "#state") == "credit"
    click(browser, '#keypad button[data-key="A"]')
    click(browser, '#keypad button[data-key="1"]')
    # the page follows the vend live: product in the tray, 35 in change in the cup
    wait_for(browser, lambda: items(browser, "tray") == ["Cola"])
    wait_for(browser, lambda: sorted(items(browser, "cup")) == ["10", "20", "5"])
    wait_for(browser, lambda: text(browser, "#state") == "idle")
    wait_for(browser, lambda: "2 left" in text(browser, '.slot[data-slot="A1"]'))
    assert server.call("GET", "/sim/state")["tray"] == ["Cola"]

    click(browser, "#take")
    wait_for(browser, lambda: items(browser, "tray") == [] and items(browser, "cup") == [])
    assert server.call("GET", "/sim/state")["returned"] == []

    # coin return from the keypad's * key
    click(browser, '#coins button[data-coin="50"]')
    wait_for(browser, lambda: lcd(browser)[0] == "CREDIT 0.50")
    click(browser, '#keypad button[data-key="*"]')
    wait_for(browser, lambda: items(browser, "cup") == ["50"])

    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []


def test_fault_switchboard_and_errors(server: Server, browser: Any) -> None:
    browser.get(f"http://127.0.0.1:{server.port}/")
    wait_for(browser, lambda: "Cola" in text(browser, '.slot[data-slot="A1"]'))
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
    wait_for(browser, lambda: lcd(browser)[0] == "CREDIT 1.00")
    assert items(browser, "tray") == []

    # the acceptor list offers the acceptor's faults
    device.find_element(By.CSS_SELECTOR, 'option[value="acceptor"]').click()
    names = [o.get_attribute("value") for o in
             browser.find_elements(By.CSS_SELECTOR, "#fault-name option")]
    assert "jam" in names and "bad_checksum" in names and names[-1] == "clear"
