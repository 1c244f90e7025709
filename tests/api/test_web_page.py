"""The pages as the server sends them: ``GET /`` (front panel), ``GET /console`` and
their files (the browser tests in tests/browser click through them)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from api.app import all_routes
from api.routes_live import SOCKET_PATHS
from api.routes_pages import STATIC_FILES, package_text
from api.routes_web import page_html

PAGES = ["/", "/console", *(f.path for f in STATIC_FILES)]
SCRIPTS = [f for f in STATIC_FILES if f.name.endswith(".js") and not f.name.startswith("vendor/")]
VENDORED = [f for f in STATIC_FILES if f.name.startswith("vendor/")]


def layout_of(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="layout">(.*?)</script>', html)
    assert match, "the layout was not filled in"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


@pytest.mark.asyncio
async def test_panel_page_carries_the_machine_layout(client: TestClient[Any, Any]) -> None:
    r = await client.get("/")
    assert r.status == 200
    assert r.content_type == "text/html"
    assert r.headers["Cache-Control"] == "no-store"
    layout = layout_of(await r.text())
    assert (layout["rows"], layout["columns"]) == (["A", "B", "C", "D"], 6)
    assert layout["coins"] == [5, 10, 20, 50, 100]
    assert layout["keys"] == ["123A", "456B", "789C", "*0#D"]
    faults = layout["faults"]
    assert list(faults) == ["acceptor", "hopper:5", "hopper:10", "hopper:20", "hopper:50",
                            "hopper:100", "slot"]
    assert "jam" in faults["slot"] and "empty" in faults["hopper:50"]
    assert "bad_checksum" in faults["acceptor"] and "clear" not in faults["acceptor"]


@pytest.mark.asyncio
@pytest.mark.parametrize("path", PAGES)
async def test_every_page_and_file_has_a_strict_policy(client: TestClient[Any, Any],
                                                       path: str) -> None:
    r = await client.get(path)
    assert r.status == 200
    policy = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert r.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("page", [("simulators", "panel.html"), ("api", "console.html")])
def test_pages_hold_no_inline_script_or_style(page: tuple[str, str]) -> None:
    html = package_text(*page)
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
    assert re.search(r"<script\b[^>]*>\s*[^<\s]", html.replace("/*LAYOUT*/{}", "")) is None
    assert not re.search(r"\sstyle=|<style|\son[a-z]+=", html, re.IGNORECASE)


@pytest.mark.parametrize("page", [("simulators", "panel.html"), ("api", "console.html")]
                         + [(f.package, f.name) for f in STATIC_FILES])
def test_nothing_comes_from_outside_the_machine(page: tuple[str, str]) -> None:
    text = package_text(*page)
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.IGNORECASE)
    assert "@import" not in text


@pytest.mark.parametrize("script", SCRIPTS, ids=[f.name for f in SCRIPTS])
def test_scripts_write_values_as_text_and_never_poll(script: Any) -> None:
    js = package_text(script.package, script.name)
    for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                   "new Function", "setInterval", "localStorage", "sessionStorage",
                   "document.cookie"):
        assert unsafe not in js, unsafe
    # text goes in as text: directly, or through the console's element()/write() helpers
    assert "textContent" in js or 'from "./console-dom.js"' in js


@pytest.mark.parametrize("script", SCRIPTS, ids=[f.name for f in SCRIPTS])
def test_scripts_call_only_endpoints_the_app_has(script: Any) -> None:
    js = package_text(script.package, script.name)
    known = {r.path for r in all_routes()} | set(SOCKET_PATHS)
    called = set(re.findall(r"[\"`](/(?:[a-z]+)(?:/[A-Za-z${}.]*)*)[\"`]", js))
    assert called or "fetch(" not in js, "no endpoint found"  # helper modules call none
    for path in called:
        pattern = re.sub(r"\\\$\\\{[^}]*\\\}", "[^/]+", re.escape(path))
        assert any(re.fullmatch(pattern, p.replace("{id}", "1").replace("{coin}", "50"))
                   for p in known), path


@pytest.mark.parametrize("script", SCRIPTS, ids=[f.name for f in SCRIPTS])
def test_modules_import_only_files_the_app_serves(script: Any) -> None:
    js = package_text(script.package, script.name)
    served = {f.name for f in STATIC_FILES}
    for name in re.findall(r'from "\./([^"]+)"', js):
        assert name in served, name


def test_layout_cannot_close_the_data_block() -> None:
    html = page_html("A</script><b>", 1, [5], {"slot": ["jam"]})
    block = html.split('id="layout">')[1].split("</script>")[0]
    assert "<" not in block
    assert json.loads(block)["rows"] == ["A", "<", "/", "s", "c", "r", "i", "p", "t", ">",
                                         "<", "b", ">"]


def test_the_vendored_chart_library_is_whole_and_safe() -> None:
    """uPlot, as its package ships it (minified), with its licence; it writes no markup."""
    names = {f.name for f in VENDORED}
    assert names == {"vendor/uPlot.iife.min.js", "vendor/uPlot.min.css", "vendor/uPlot.LICENSE"}
    js = package_text("api", "vendor/uPlot.iife.min.js")
    assert js.startswith("/*! uPlot v1.6.32") and "var uPlot=" in js
    for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                   "new Function", "setInterval", "localStorage", "document.cookie"):
        assert unsafe not in js, unsafe
    assert "MIT License" in package_text("api", "vendor/uPlot.LICENSE")
