"""The operator console keeps its operator logged in past the access token's life:
it refreshes the token itself (POST /refresh) and hands it to its live socket."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import click, text, wait_for
from tests.browser.test_console import event_kinds, logged_in
from tests.process import Server

pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
pytestmark = pytest.mark.timeout(120)

ACCESS_TOKEN_S = 10  # the shortest the config takes


@pytest.fixture
def server_args(tmp_path: Path) -> tuple[str, ...]:
    config = tmp_path / "short-tokens.toml"
    config.write_text(f"[api]\naccess_token_s = {ACCESS_TOKEN_S}\n")
    return ("--sim", "--config", str(config))


def test_the_console_outlives_its_access_token(server: Server, browser: Any) -> None:
    logged_in(browser, server)
    links = set()
    deadline = time.monotonic() + ACCESS_TOKEN_S * 1.5  # the first access token expires
    while time.monotonic() < deadline:
        links.add(text(browser, "#link"))
        time.sleep(0.2)
    assert links == {"live"}  # the socket took the refreshed token: it never dropped
    server.call("POST", "/sim/coin", {"coin": 50})
    wait_for(browser, lambda: "coin_accepted" in event_kinds(browser))
    click(browser, "#collect")
    wait_for(browser, lambda: text(browser, "#message") == "Collected 0.00 from the cashbox")
    assert browser.find_element("css selector", "#desk").is_displayed()
