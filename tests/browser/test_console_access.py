"""The operator console for everyone, in headless Chromium against a real ``vending run``.

axe-core finds no serious or critical violation in any state an operator brings
the console to (the login, its errors, the desk, service mode, a broken slot, a
refused price, a phone); the focus goes where an action led and the message
area, always in the page, says what happened; each wrong field is said once,
next to it, in the units the operator typed; the phone's tab order is the
order on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import (
    OPERATOR,
    click,
    insert_coin,
    shot,
    text,
    type_into,
    wait_for,
)
from tests.browser.test_console import event_kinds, log_in, logged_in, row
from tests.process import Server

pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
pytestmark = pytest.mark.timeout(120)

PRICE_A1 = 'tr[data-slot="A1"] input[aria-label="price of A1"]'
SAVE_A1 = 'tr[data-slot="A1"] button[aria-label="Save A1"]'
CLEAR_A1 = 'tr[data-slot="A1"] button[aria-label="Clear fault A1"]'


def active(browser: Any) -> str:
    """The focused element as ``tag#id.class`` (its row's slot when it has one)."""
    return str(browser.execute_script(
        "const e = document.activeElement, tr = e.closest('tr');"
        "return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +"
        " (e.className ? '.' + e.className.split(' ')[0] : '') +"
        " (tr && tr.dataset.slot ? '@' + tr.dataset.slot : '');"))


def field_message(browser: Any, css: str) -> tuple[str | None, str]:
    """(aria-invalid, the text of the element its aria-describedby names)."""
    found = browser.execute_script(
        "const f = document.querySelector(arguments[0]);"
        "const ids = (f.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);"
        "return [f.getAttribute('aria-invalid'),"
        " ids.map(i => document.getElementById(i).textContent).join(' ')];", css)
    return found[0], str(found[1])


def break_a1(server: Server, browser: Any) -> None:
    server.call("POST", "/sim/fault", {"device": "slot:A1", "fault": "jam"})
    insert_coin(server, 100)
    wait_for(browser, lambda: text(browser, "#fact-credit") == "1.00")  # credited: now pick
    server.call("POST", "/sim/press", {"keys": "A1"})
    wait_for(browser, lambda: "out of order" in row(browser, 'tr[data-slot="A1"]'))


def test_every_console_state_passes_axe(server: Server, browser: Any,
                                        axe: Callable[[str], list[Any]], tmp_path: Path) -> None:
    browser.get(f"http://127.0.0.1:{server.port}/console")
    axe("the login")
    click(browser, "#login-form button")
    wait_for(browser, lambda: "Enter your user name." in text(browser, "#login"))
    axe("the login with empty fields")
    log_in(browser, server, OPERATOR[0], "wrong password")
    wait_for(browser, lambda: text(browser, "#login-message") != "")
    axe("the login refused")

    logged_in(browser, server)
    axe("the desk")
    click(browser, "#service")
    wait_for(browser, lambda: text(browser, "#state") == "service")
    axe("service mode")
    click(browser, "#service")
    wait_for(browser, lambda: text(browser, "#state") != "service")

    break_a1(server, browser)
    wait_for(browser, lambda: "vend_failed" in event_kinds(browser))
    axe("a broken slot")
    type_into(browser, PRICE_A1, "-3")
    click(browser, SAVE_A1)
    wait_for(browser, lambda: field_message(browser, PRICE_A1)[0] == "true")
    axe("a refused price")
    browser.execute_script("document.querySelector('#events details').open = true")
    axe("an event opened to its raw data")
    shot(browser, tmp_path, "console-broken-slot.png")

    browser.set_window_size(390, 844)
    axe("the desk on a phone")


def test_focus_and_message_after_login_and_clear_fault(server: Server, browser: Any) -> None:
    browser.get(f"http://127.0.0.1:{server.port}/console")
    message = browser.find_element("css selector", "#message")
    # the message area is in the page before anything is said (a live region kept in place)
    assert message.get_attribute("role") == "status"
    assert browser.execute_script(
        "return getComputedStyle(arguments[0]).display", message) != "none"
    logged_in(browser, server)
    assert active(browser) == "h2#machine-h", "the focus was lost after login"
    assert text(browser, "#message") == f"Logged in as {OPERATOR[0]}."

    break_a1(server, browser)
    server.call("POST", "/sim/fault", {"device": "slot:A1", "fault": "clear"})  # spiral freed
    browser.find_element("css selector", CLEAR_A1).click()
    wait_for(browser, lambda: "out of order" not in row(browser, 'tr[data-slot="A1"]'))
    wait_for(browser, lambda: text(browser, "#message").startswith("A1 cleared"))
    assert not browser.find_element("css selector", CLEAR_A1).is_displayed()
    assert active(browser) == "span.status@A1", "the focus was lost with the hidden button"


def test_an_empty_login_is_said_once_next_to_each_field(server: Server, browser: Any) -> None:
    browser.get(f"http://127.0.0.1:{server.port}/console")
    click(browser, "#login-form button")
    wait_for(browser, lambda: field_message(browser, "#username")[0] == "true")
    assert field_message(browser, "#username") == ("true", "Enter your user name.")
    assert field_message(browser, "#password") == ("true", "Enter your password.")
    page = text(browser, "body")
    assert page.count("Enter your user name.") == 1 and "characters" not in page
    assert text(browser, "#login-message") == ""
    assert active(browser) == "input#username"
    type_into(browser, "#username", OPERATOR[0])
    click(browser, "#login-form button")
    wait_for(browser, lambda: field_message(browser, "#username")[0] is None)
    assert field_message(browser, "#password")[0] == "true"


def test_a_wrong_price_is_said_in_euros_next_to_its_field(server: Server, browser: Any) -> None:
    logged_in(browser, server)
    click(browser, "#collect")  # a success first: it must not stand beside the error
    wait_for(browser, lambda: text(browser, "#message").startswith("Collected"))
    type_into(browser, PRICE_A1, "-3")
    click(browser, SAVE_A1)
    wait_for(browser, lambda: field_message(browser, PRICE_A1)[0] == "true")
    assert field_message(browser, PRICE_A1) == ("true", "Price of A1: must be at least 0.05.")
    assert text(browser, "#message") == ""
    assert active(browser) == "input#price-A1@A1"
    assert server.call("GET", "/product")[0]["cost"] == 65
    type_into(browser, 'tr[data-slot="A1"] input[aria-label="stock of A1"]', "11")
    type_into(browser, PRICE_A1, "0.70")
    click(browser, SAVE_A1)
    stock = 'tr[data-slot="A1"] input[aria-label="stock of A1"]'
    wait_for(browser, lambda: field_message(browser, stock)[0] == "true")
    assert field_message(browser, stock) == ("true", "Stock of A1: from 0 to 10 (the slot "
                                                     "holds 10).")
    assert field_message(browser, PRICE_A1)[0] is None
    assert server.call("GET", "/product")[0]["cost"] == 65  # nothing saved: one row, one save


def test_the_phone_tab_order_is_the_order_on_screen(server: Server, browser: Any) -> None:
    browser.set_window_size(390, 844)
    logged_in(browser, server)
    cards = browser.execute_script(
        "return [...document.querySelectorAll('#desk > section')].filter(s => !s.hidden)"
        ".map(s => [s.querySelector('h2').id, s.getBoundingClientRect().top]);")
    tops = [top for _id, top in cards]
    assert tops == sorted(tops), f"the cards are not shown in the page's order: {cards}"
    assert [i for i, _top in cards][:4] == ["machine-h", "coins-h", "slots-h", "log-h"]
    positive = browser.execute_script(
        "return [...document.querySelectorAll('[tabindex]')].filter(e => e.tabIndex > 0).length")
    assert positive == 0
