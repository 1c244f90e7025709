"""Fixtures of the browser tests: a real ``vending run``, headless Chromium, helpers.

Needs Chromium and its driver (Debian: ``apt-get install chromium chromium-driver``)
and Selenium; without them every browser test is skipped and says so.  Each
test saves screenshots in its temporary folder (``shot``).  The accessibility
checks (``axe``) also need axe-core, a test-only tool that ``.ci/run`` installs
with ``npm ci --prefix tests/browser``; without it they are skipped and say so.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.process import Server, cli, login

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
MISSING = ("Chromium and chromedriver are not installed "
           "(Debian: apt-get install chromium chromium-driver)")
AXE_JS = Path(os.environ.get("AXE_CORE_JS") or
              Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js")
AXE_MISSING = (f"axe-core is not installed ({AXE_JS} is missing): run "
               "`npm ci --prefix tests/browser` (as .ci/run does) for the accessibility checks")
OPERATOR = ("oper", "operator-pass-1")
WINDOW = (1280, 900)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/") and not (CHROMIUM and
                                                                          CHROMEDRIVER):
            item.add_marker(pytest.mark.skip(reason=MISSING))


@pytest.fixture
def server_args() -> tuple[str, ...]:
    """Extra arguments of ``vending run`` (a test overrides it for a config of its own)."""
    return ()


@pytest.fixture
def server(tmp_path: Path, server_args: tuple[str, ...]) -> Iterator[Server]:
    """The built-in simulated machine with an operator, Cola in A1 and Crisps in B2."""
    db = tmp_path / "vending.db"
    name, password = OPERATOR
    assert cli(db, "user", "add", name, "--role", "operator", "--password-stdin",
               stdin=password + "\n").returncode == 0
    server = Server(db, args=server_args)
    server.start()
    try:
        server.call("POST", "/user", {"username": "sam", "password": "seller-pass",
                                      "role": "seller"})
        token = login(server, "sam", "seller-pass")
        server.call("POST", "/product", {"productName": "Cola", "cost": 65,
                                         "amountAvailable": 3, "slot": "A1"}, token)
        server.call("POST", "/product", {"productName": "Crisps", "cost": 80,
                                         "amountAvailable": 6, "slot": "B2"}, token)
        yield server
    finally:
        server.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={WINDOW[0]},{WINDOW[1]}", "--hide-scrollbars"):
        options.add_argument(arg)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)),
                              options=options)
    driver.downloads = downloads
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(browser: Any, what: Callable[[], Any], timeout_s: float = 20) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(browser, timeout_s, poll_frequency=0.05).until(lambda _d: what())
    except TimeoutException:
        page = browser.execute_script("return document.body.innerText")
        raise AssertionError(f"not seen within {timeout_s} s; the page shows:\n{page[:3000]}"
                             ) from None


def text(browser: Any, css: str) -> str:
    # read in one script call: the page redraws while it follows the machine
    return str(browser.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", css))


def texts(browser: Any, css: str) -> list[str]:
    return list(browser.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);", css))


def click(browser: Any, css: str) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.CSS_SELECTOR, css).click()


def type_into(browser: Any, css: str, value: str) -> None:
    from selenium.webdriver.common.by import By

    field = browser.find_element(By.CSS_SELECTOR, css)
    field.clear()
    field.send_keys(value)


def shot(browser: Any, folder: Path, name: str, *, full: bool = True) -> Path:
    """A screenshot of the whole page (window stretched to the page's height)."""
    size = browser.get_window_size()
    if full:
        height = int(browser.execute_script("return document.documentElement.scrollHeight"))
        browser.set_window_size(size["width"], max(height, 400) + 90)
    browser.execute_script("window.scrollTo(0, 0)")
    path = folder / name
    browser.save_screenshot(str(path))
    browser.set_window_size(size["width"], size["height"])
    return path


def insert_coin(server: Server, coin: int, timeout_s: float = 20) -> dict[str, Any]:
    """Drop a coin until the machine takes it (a machine just started may still refuse
    coins while its acceptor settles: the coin comes back, as it would to a customer)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer: dict[str, Any] = server.call("POST", "/sim/coin", {"coin": coin})
        if answer["result"] == "accepted" or time.monotonic() > deadline:
            assert answer["result"] == "accepted", answer
            return answer
        time.sleep(0.1)


def severe_errors(browser: Any) -> list[Any]:
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


# axe-core's rules of WCAG 2.x A and AA and of best practice, plus one it keeps among its
# experiments: a control's spoken name holds the words it shows (speech control).
AXE_OPTIONS = {"resultTypes": ["violations"],
               "rules": {"label-content-name-mismatch": {"enabled": True}}}
BLOCKING = ("serious", "critical")


@pytest.fixture
def axe(browser: Any) -> Callable[[str], list[dict[str, Any]]]:
    """``axe("what the page shows")``: fails on any serious or critical violation there.

    axe-core is put into the page (again after each navigation) and run on the whole
    document; the lesser violations are returned for a test to look at.
    """
    if not AXE_JS.is_file():
        pytest.skip(AXE_MISSING)
    source = AXE_JS.read_text(encoding="utf-8")

    def check(state: str) -> list[dict[str, Any]]:
        if not browser.execute_script("return typeof window.axe === 'object'"):
            browser.execute_script(source)
        outcome = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, arguments[0]).then((r) => done(r.violations.map((v) => ({"
            "  id: v.id, impact: v.impact, help: v.help,"
            "  nodes: v.nodes.map((n) => n.target.join(' ') + ': ' + n.failureSummary)}))))"
            ".catch((e) => done({error: String(e)}));", AXE_OPTIONS)
        assert not isinstance(outcome, dict), f"axe-core failed on {state}: {outcome}"
        blocking = [v for v in outcome if v["impact"] in BLOCKING]
        assert not blocking, (f"accessibility violations on {state}:\n" +
                              json.dumps(blocking, indent=1)[:6000])
        return list(outcome)

    return check
