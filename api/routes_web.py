"""``GET /``: the web front panel of the simulated machine (404 on real hardware).

One self-contained page (no external assets): the machine's slots with their
products, the 16x2 LCD, the keypad, coin buttons, the delivery tray and the
coin cup, and a fault switchboard for developers.  It only calls the public
endpoints (``/sim/*``, ``GET /product``), polling ``/sim/state`` so the LCD
and the tray follow a vend as it happens.
"""

from __future__ import annotations

import json
from importlib import resources

from aiohttp import web

from api.routes_sim import sim_control
from api.routing import Call, Route
from controller.money import COINS_CENTS
from simulators.gpio.keypad import DEFAULT_KEYS

PAGE = "panel.html"
LAYOUT_MARK = "/*LAYOUT*/{}"


def page_html(rows: str, columns: int, coins: list[int],
              faults: dict[str, list[str]]) -> str:
    """The page with the machine's slot layout, coins, keys and fault menu filled in.

    ``faults``: device ("acceptor", "hopper:50", and "slot" for every slot) ->
    the faults the simulated device takes besides "clear".
    """
    template = resources.files("simulators").joinpath("web", PAGE).read_text("utf-8")
    layout = json.dumps({"rows": list(rows), "columns": columns, "coins": coins,
                         "keys": list(DEFAULT_KEYS), "faults": faults})
    return template.replace(LAYOUT_MARK, layout.replace("<", "\\u003c"), 1)


async def panel(call: Call) -> web.StreamResponse:
    slots = call.machine.config.slots
    html = page_html(slots.rows, slots.columns, list(COINS_CENTS),
                     sim_control(call).fault_menu())
    return web.Response(text=html,
                        content_type="text/html",
                        headers={"Cache-Control": "no-store",
                                 "X-Content-Type-Options": "nosniff"})


ROUTES = [
    Route("GET", "/", panel, "The web front panel of the simulated machine", sim_only=True,
          text="text/html", tag="sim"),
]
