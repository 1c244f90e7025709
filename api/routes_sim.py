"""Hands on the simulated machine: ``/sim/...`` (404 on real hardware)."""

from __future__ import annotations

from aiohttp import web

from api.routing import Call, Route, reply
from api.schemas import ref
from api.validation import Body, Field
from controller.errors import NotFound
from controller.hardware import SimControl
from controller.money import COINS_CENTS
from drivers.keys import ALL_KEYS

COIN_ALTERNATIVES = "|".join(map(str, COINS_CENTS))
SIM_COIN = Body({"coin": Field("integer", enum=COINS_CENTS)})
KEY_CLASS = "".join(sorted(ALL_KEYS))  # no character that is special in a [...] class
KEYS = Body({"keys": Field("string", min_length=1, max_length=32, pattern=rf"^[{KEY_CLASS}]+$",
                           description="keypad keys, e.g. A1; * is coin return")})
FAULT = Body({
    "device": Field("string", pattern=rf"^(acceptor|changer|bills|reader|slot:[A-Z][1-9]|"
                                     rf"(hopper|tube):({COIN_ALTERNATIVES}))$",
                    description="slot:A1, hopper:50, acceptor; with MDB devices changer, "
                                "tube:50, bills, reader"),
    "fault": Field("string", min_length=1, max_length=32, pattern=r"^[a-z_]+$",
                   description="jam, no_drop, empty, silent, bad_checksum, reset, refuse, "
                               "short_pay, full, deny (the reader declines every vend), "
                               "hang (a ccTalk line that never returns: a watchdog test hook) "
                               "or clear; "
                               "the simulator says which fit which device"),
})


SIM_BILL = Body({"bill": Field("integer", minimum=1, maximum=1_000_000,
                               description="a bill's value in cents")})
CARD = Body({"funds": Field("integer", minimum=0, maximum=0xFFFE,
                            description="cents available on the card presented")})


def sim_control(call: Call) -> SimControl:
    """The simulated machine's controls (a sim-only route never runs without them)."""
    if call.machine.sim is None:
        raise NotFound("there is no simulated machine")
    return call.machine.sim


async def insert_coin(call: Call) -> web.StreamResponse:
    return reply(await sim_control(call).insert_coin(call.body["coin"]))


async def insert_bill(call: Call) -> web.StreamResponse:
    return reply(await sim_control(call).insert_bill(call.body["bill"]))


async def press(call: Call) -> web.StreamResponse:
    return reply(await sim_control(call).press(call.body["keys"]))


async def sim_state(call: Call) -> web.StreamResponse:
    return reply(sim_control(call).state())


async def take_tray(call: Call) -> web.StreamResponse:
    return reply(await sim_control(call).take_tray())


async def inject_fault(call: Call) -> web.StreamResponse:
    return reply(await sim_control(call).inject_fault(call.body["device"], call.body["fault"]))


async def present_card(call: Call) -> web.StreamResponse:
    return reply(await sim_control(call).present_card(call.body["funds"]))


ROUTES = [
    Route("POST", "/sim/coin", insert_coin, "Drop a coin into the simulated acceptor",
          body=SIM_COIN, response=ref("SimAnswer"), sim_only=True, tag="sim"),
    Route("POST", "/sim/bill", insert_bill, "Feed a bill to the simulated bill validator",
          body=SIM_BILL, response=ref("SimAnswer"), sim_only=True, tag="sim"),
    Route("POST", "/sim/press", press, "Press keys on the simulated keypad", body=KEYS,
          response=ref("SimAnswer"), sim_only=True, tag="sim"),
    Route("GET", "/sim/state", sim_state, "Display, delivery tray, coin cup and state",
          response=ref("SimState"), sim_only=True, tag="sim"),
    Route("POST", "/sim/tray/take", take_tray, "Empty the delivery tray and the coin cup",
          response=ref("SimTray"), sim_only=True, tag="sim"),
    Route("POST", "/sim/card", present_card, "Present a card at the simulated reader",
          body=CARD, response=ref("SimState"), sim_only=True, tag="sim"),
    Route("POST", "/sim/fault", inject_fault, "Inject or clear a device fault", body=FAULT,
          response=ref("SimAnswer"), sim_only=True, tag="sim"),
]
