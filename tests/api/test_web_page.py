"""``GET /``: the web front panel page as the server sends it (the browser test
in tests/browser clicks through it)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from api.routes_web import page_html


@pytest.mark.asyncio
async def test_panel_page_carries_the_machine_layout(client: TestClient[Any, Any]) -> None:
    r = await client.get("/")
    assert r.status == 200
    assert r.content_type == "text/html"
    assert r.headers["Cache-Control"] == "no-store"
    html = await r.text()
    match = re.search(r"const LAYOUT = (\{.*?\});\n", html)
    assert match, "the layout was not filled in"
    layout = json.loads(match.group(1))
    assert (layout["rows"], layout["columns"]) == (["A", "B", "C", "D"], 6)
    assert layout["coins"] == [5, 10, 20, 50, 100]
    assert layout["keys"] == ["123A", "456B", "789C", "*0#D"]
    faults = layout["faults"]
    assert list(faults) == ["acceptor", "hopper:5", "hopper:10", "hopper:20", "hopper:50",
                            "hopper:100", "slot"]
    assert "jam" in faults["slot"] and "empty" in faults["hopper:50"]
    assert "bad_checksum" in faults["acceptor"] and "clear" not in faults["acceptor"]
    # the page calls only endpoints the app has
    for path in set(re.findall(r'"(/(?:sim|product)[a-z/]*)"', html)):
        assert path in ("/sim/press", "/sim/coin", "/sim/tray/take", "/sim/fault",
                        "/sim/state", "/product"), path


def test_layout_cannot_close_the_script() -> None:
    html = page_html("A</script><b>", 1, [5], {"slot": ["jam"]})
    assert "</script><b>" not in html.split("const LAYOUT = ")[1].split(";\n")[0]
