"""Maintenance for operators: ``/machine`` and below."""

from __future__ import annotations

from aiohttp import web

from api.routing import OPERATOR, Call, Param, Route, reply
from api.schemas import array, ref
from api.validation import Body, Field
from controller.config import Config
from controller.money import COINS_CENTS
from controller.ops.round_report import SALES_DAYS_DEFAULT, SALES_DAYS_MAX

SERVICE = Body({"enabled": Field("boolean")})
COIN_PARAM = {"coin": Param(Field("integer", enum=COINS_CENTS))}
SALES_QUERY = {"days": Param(Field("integer", minimum=1, maximum=SALES_DAYS_MAX),
                             default=SALES_DAYS_DEFAULT)}
EVENTS_QUERY = {
    "after": Param(Field("integer", minimum=0, maximum=2**53), default=0),
    "limit": Param(Field("integer", minimum=1, maximum=1000), default=100),
}


async def machine_state(call: Call) -> web.StreamResponse:
    return reply(await call.machine.state_json())


async def set_hopper(call: Call) -> web.StreamResponse:
    return reply(await call.machine.set_hopper(call.params["coin"], call.body["payout"]))


async def collect_cashbox(call: Call) -> web.StreamResponse:
    return reply({"collected": await call.machine.collect_cashbox()})


async def set_service(call: Call) -> web.StreamResponse:
    return reply(await call.machine.set_service(call.body["enabled"]))


async def events(call: Call) -> web.StreamResponse:
    return reply(await call.machine.events(call.params["after"], call.params["limit"]))


async def audit(call: Call) -> web.StreamResponse:
    return web.Response(text=await call.machine.audit_text(), content_type="text/plain")


async def sales(call: Call) -> web.StreamResponse:
    return reply(await call.machine.sales_report(call.params["days"]))


async def picklist(call: Call) -> web.StreamResponse:
    return reply(await call.machine.picklist())


def routes(config: Config) -> list[Route]:
    """The maintenance routes; a hopper holds at most its configured capacity."""
    capacity = max(config.hopper_capacity.values(), default=0)
    hopper_fill = Body({"payout": Field("integer", minimum=0, maximum=capacity,
                                        description="coins in the hopper after the refill")})
    return [
        Route("GET", "/machine", machine_state,
              "Machine state: FSM state, faults, panel credit, coin inventory, slots",
              roles=OPERATOR, response=ref("MachineState"), tag="machine"),
        Route("PUT", "/machine/coins/{coin}", set_hopper,
              "Set a hopper's coin count after a refill or removal", roles=OPERATOR,
              body=hopper_fill, path_params=COIN_PARAM, response=ref("Inventory"),
              errors=(409, 503), tag="machine"),
        Route("POST", "/machine/cashbox/collect", collect_cashbox, "Empty the cashbox",
              roles=OPERATOR, response=ref("Collected"), errors=(409, 503), tag="machine"),
        Route("POST", "/machine/service", set_service, "Enter or leave service mode",
              roles=OPERATOR, body=SERVICE, response=ref("MachineState"), errors=(409, 503),
              tag="machine"),
        Route("GET", "/machine/events", events, "The event log, oldest first, after an id",
              roles=OPERATOR, query=EVENTS_QUERY, response=array(ref("Event")), tag="machine"),
        Route("GET", "/machine/sales", sales,
              "Sales per hour (last 24 h), per day, per product and per payment medium",
              roles=OPERATOR, query=SALES_QUERY, response=ref("Sales"), tag="machine"),
        Route("GET", "/machine/picklist", picklist,
              "What to bring to fill every slot and hopper", roles=OPERATOR,
              response=ref("Picklist"), tag="machine"),
        Route("GET", "/machine/audit", audit, "The EVA-DTS (DEX) audit report", roles=OPERATOR,
              text="text/plain", tag="machine"),
    ]
