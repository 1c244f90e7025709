"""Products: ``/product`` and ``/product/{id}``.  The rules are in ``controller.catalog.rules``."""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from api.routing import OPERATOR, SELLER, Call, Param, Route, no_content, reply
from api.schemas import array, ref
from api.validation import Body, Field
from controller.catalog import rules as catalog
from controller.config import SlotsConfig
from controller.errors import NotFound

_TEXT = r"[^\u0000-\u001f\u007f-\u009f]"

NAME = Field("string", min_length=1, max_length=catalog.PRODUCT_NAME_MAX_CHARS,
             pattern=rf"^{_TEXT}*[^\s\u0000-\u001f\u007f-\u009f]{_TEXT}*$",
             check=catalog.validate_product_name,
             description="shown on the machine; not blank, no control characters")
COST = Field("integer", minimum=5, maximum=catalog.MAX_COST_CENTS, multiple_of=5,
             check=catalog.validate_cost, description="price in cents, a multiple of 5")


def product_bodies(config: SlotsConfig) -> tuple[Body, Body]:
    """The create and change bodies for this machine's slots (codes and capacity)."""
    amount = Field("integer", minimum=0, maximum=config.capacity,
                   description="units in the slot, at most the slot's capacity")
    slot = Field("string", enum=tuple(config.codes), required=False, nullable=True,
                 description="slot code like A1; left out or null: the first free slot")
    min_level = Field("integer", minimum=0, maximum=config.capacity, required=False,
                      description="the stock at which the slot counts as low (default 0)")
    new = Body({"productName": NAME, "cost": COST, "amountAvailable": amount, "slot": slot,
                "minLevel": min_level})
    changes = Body({"productName": replace(NAME, required=False),
                    "cost": replace(COST, required=False),
                    "amountAvailable": replace(amount, required=False),
                    "slot": replace(slot, nullable=False), "minLevel": min_level},
                   min_fields=1)
    return new, changes


PRODUCT_ID = {"id": Param(Field("integer", minimum=1, maximum=2**53), bad=NotFound)}


async def list_products(call: Call) -> web.StreamResponse:
    return reply(await call.machine.products.list())


async def read_product(call: Call) -> web.StreamResponse:
    return reply(await call.machine.products.get(call.params["id"]))


async def create_product(call: Call) -> web.StreamResponse:
    return reply(await call.machine.products.create(call.me, call.body), 201)


async def update_product(call: Call) -> web.StreamResponse:
    return reply(await call.machine.products.update(call.me, call.params["id"], call.body))


async def delete_product(call: Call) -> web.StreamResponse:
    await call.machine.products.delete(call.me, call.params["id"])
    return no_content()


def routes(config: SlotsConfig) -> list[Route]:
    """The product routes, their bodies fitted to the machine's slots."""
    new, changes = product_bodies(config)
    return [
        Route("GET", "/product", list_products, "Every product, in slot order",
              response=array(ref("Product")), tag="products"),
        Route("GET", "/product/{id}", read_product, "One product", path_params=PRODUCT_ID,
              response=ref("Product"), errors=(404,), tag="products"),
        Route("POST", "/product", create_product, "Add a product (sellers)", roles=SELLER,
              body=new, status=201, response=ref("Product"), errors=(409,),
              tag="products"),
        Route("PUT", "/product/{id}", update_product,
              "Change a product (its seller, or an operator)", roles=SELLER | OPERATOR,
              body=changes, path_params=PRODUCT_ID, response=ref("Product"),
              errors=(404, 409), tag="products"),
        Route("DELETE", "/product/{id}", delete_product,
              "Remove a product (its seller, or an operator)", roles=SELLER | OPERATOR,
              path_params=PRODUCT_ID, status=204, errors=(404,), tag="products"),
    ]
