"""``GET /``: the web front panel of the simulated machine (404 on real hardware).

The page (``simulators/web/panel.html`` with ``panel.js`` and ``panel.css``)
draws the machine's slots with their products, the 16x2 LCD, the keypad, coin
buttons, the delivery tray and the coin cup, the hoppers and the cashbox, and
a fault switchboard for developers; with MDB devices also a bill slot (a button
per bill taken) with its returned bills, and a card to present at the reader.  It
follows the machine over the ``/live/panel`` WebSocket (``api/live.py``) and acts
only through the public endpoints (``/sim/*``).  The machine's layout goes into the page as a JSON
data block, which the Content-Security-Policy lets through since it is not
script, and its fixed parts (slot tiles, keys, coin buttons, hopper rows) are
drawn into the HTML, so the page has its final shape at the first paint and
nothing moves while it loads.
"""

from __future__ import annotations

import html
import json

from aiohttp import web

from api.routes_pages import package_text, page_response
from api.routes_sim import sim_control
from api.routing import Call, Route
from controller.money import COINS_CENTS, format_cents
from drivers.keys import KEYPAD_LAYOUT

PAGE = "panel.html"
LAYOUT_MARK = "/*LAYOUT*/{}"
KEY_NAMES = {"*": "* coin return", "#": "# clear"}


def page_html(rows: str, columns: int, coins: list[int],
              faults: dict[str, list[str]], bills: list[int] | None = None) -> str:
    """The page with the machine's slot layout, coins, keys and fault menu filled in.

    ``faults``: device ("acceptor", "hopper:50", and "slot" for every slot) ->
    the faults the simulated device takes besides "clear".  ``bills``: the bills
    the validator takes (its slot is shown only with them).
    """
    template = package_text("simulators", PAGE)
    layout = json.dumps({"rows": list(rows), "columns": columns, "coins": coins,
                         "keys": list(KEYPAD_LAYOUT), "faults": faults})
    # "<" escaped: the data block cannot be closed by a value (a "</script>")
    page = template.replace(LAYOUT_MARK, layout.replace("<", "\\u003c"), 1)
    page = page.replace('class="glass"', f'class="glass columns-{columns}"', 1)
    for mark, part in (("<!--SLOTS-->", slot_tiles(rows, columns)), ("<!--KEYS-->", key_buttons()),
                       ("<!--COINS-->", coin_buttons(coins)),
                       ("<!--HOPPERS-->", hopper_rows(coins)),
                       ("<!--BILLS-->", bill_buttons(bills or []))):
        page = page.replace(mark, part, 1)
    if bills:
        page = page.replace('<div id="bill-slot" class="bill-slot" hidden>',
                            '<div id="bill-slot" class="bill-slot">', 1)
    return page


def slot_tiles(rows: str, columns: int) -> str:
    """One empty tile per slot; the script fills in its product as the machine says."""
    codes = [html.escape(f"{r}{c}") for r in rows for c in range(1, columns + 1)]
    return "".join(f'<div class="slot empty" role="listitem" data-slot="{code}">'
                   f'<span class="code">{code}</span><span class="name"></span>'
                   f'<span class="price"></span><span class="stock"></span></div>'
                   for code in codes)


def key_buttons() -> str:
    out = []
    for key in "".join(KEYPAD_LAYOUT):
        label = f' aria-label="{KEY_NAMES[key]}"' if key in KEY_NAMES else ""
        out.append(f'<button type="button" data-key="{html.escape(key)}"{label}>'
                   f"{html.escape(key)}</button>")
    return "".join(out)


def coin_buttons(coins: list[int]) -> str:
    """Each coin button shows its value as the page writes money (its spoken name too)."""
    return "".join(f'<button type="button" data-coin="{c}" title="Insert a {format_cents(c)} '
                   f'coin">{format_cents(c)}</button>' for c in coins)


def bill_buttons(bills: list[int]) -> str:
    return "".join(f'<button type="button" data-bill="{b}" title="Insert a {format_cents(b)} '
                   f'bill">{format_cents(b)}</button>' for b in bills)


def hopper_rows(coins: list[int]) -> str:
    return "".join(f'<tr data-coin="{c}"><th scope="row" class="money">{format_cents(c)}</th>'
                   f'<td class="money"><meter min="0" max="1" value="0" '
                   f'aria-label="{format_cents(c)} hopper level"></meter>'
                   f'<span class="payout"> …</span></td>'
                   f'<td class="money cashbox">…</td></tr>' for c in coins)


async def panel(call: Call) -> web.StreamResponse:
    config = call.machine.config
    slots = config.slots
    bills = sorted(config.bills.accept_cents) if config.bills is not None else None
    html = page_html(slots.rows, slots.columns, list(COINS_CENTS),
                     sim_control(call).fault_menu(), bills)
    return page_response(html, "text/html")


ROUTES = [
    Route("GET", "/", panel, "The web front panel of the simulated machine", sim_only=True,
          text="text/html", tag="sim"),
]
