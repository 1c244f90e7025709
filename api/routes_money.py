"""A buyer's money: ``/deposit``, ``/buy``, ``/reset``.  The machine moves the coins."""

from __future__ import annotations

from aiohttp import web

from api.routing import BUYER, Call, Route, reply
from api.schemas import ref
from api.validation import EMPTY, Body, Field
from controller.money import COINS_CENTS, validate_coin

COIN = Field("integer", enum=COINS_CENTS, check=validate_coin,
             description="coin value in cents")
DEPOSIT = Body({"coin": COIN})
BUY = Body({
    "productId": Field("integer", minimum=1, maximum=2**53),
    "amount": Field("integer", minimum=1, maximum=1000, description="units to buy"),
})


async def deposit(call: Call) -> web.StreamResponse:
    total = await call.machine.deposit(call.me["id"], call.body["coin"])
    return reply({"deposit": total})


async def buy(call: Call) -> web.StreamResponse:
    result = await call.machine.buy(call.me["id"], call.body["productId"],
                                    call.body["amount"])
    return reply(result)


async def reset(call: Call) -> web.StreamResponse:
    change = await call.machine.reset(call.me["id"])
    return reply({"deposit": 0, "change": change})


ROUTES = [
    Route("POST", "/deposit", deposit,
          "Put a coin into the buyer's deposit (on hardware: claims the next such coin "
          "inserted at the machine). One claim at a time per machine and none while the "
          "front panel holds credit (409 machine_busy); * at the keypad cancels a waiting "
          "claim (409 deposit_cancelled)", roles=BUYER, body=DEPOSIT, response=ref("Deposit"),
          errors=(408, 409, 503), tag="money"),
    Route("POST", "/buy", buy, "Buy units of one product from the deposit; the change is paid",
          roles=BUYER, body=BUY, response=ref("Purchase"), errors=(404, 409, 503),
          tag="money"),
    Route("POST", "/reset", reset, "Pay the deposit back", roles=BUYER, body=EMPTY,
          response=ref("Reset"), errors=(409, 503), tag="money"),
]
