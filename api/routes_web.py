"""``GET /``: the web front panel of the simulated machine (404 on real hardware).

The page (``simulators/web/panel.html`` with ``panel.js`` and ``panel.css``)
draws the machine's slots with their products, the 16x2 LCD, the keypad, coin
buttons, the delivery tray and the coin cup, the hoppers and the cashbox, and
a fault switchboard for developers.  It follows the machine over the
``/live/panel`` WebSocket (``api/live.py``) and acts only through the public
endpoints (``/sim/*``).  The machine's layout goes into the page as a JSON
data block, which the Content-Security-Policy lets through since it is not
script.
"""

from __future__ import annotations

import json

from aiohttp import web

from api.routes_pages import package_text, page_response
from api.routes_sim import sim_control
from api.routing import Call, Route
from controller.money import COINS_CENTS
from drivers.keys import KEYPAD_LAYOUT

PAGE = "panel.html"
LAYOUT_MARK = "/*LAYOUT*/{}"


def page_html(rows: str, columns: int, coins: list[int],
              faults: dict[str, list[str]]) -> str:
    """The page with the machine's slot layout, coins, keys and fault menu filled in.

    ``faults``: device ("acceptor", "hopper:50", and "slot" for every slot) ->
    the faults the simulated device takes besides "clear".
    """
    template = package_text("simulators", PAGE)
    layout = json.dumps({"rows": list(rows), "columns": columns, "coins": coins,
                         "keys": list(KEYPAD_LAYOUT), "faults": faults})
    # "<" escaped: the data block cannot be closed by a value (a "</script>")
    return template.replace(LAYOUT_MARK, layout.replace("<", "\\u003c"), 1)


async def panel(call: Call) -> web.StreamResponse:
    slots = call.machine.config.slots
    html = page_html(slots.rows, slots.columns, list(COINS_CENTS),
                     sim_control(call).fault_menu())
    return page_response(html, "text/html")


ROUTES = [
    Route("GET", "/", panel, "The web front panel of the simulated machine", sim_only=True,
          text="text/html", tag="sim"),
]
