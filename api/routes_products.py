"""Products: ``/product`` and ``/product/{id}``.  The rules are in ``controller.catalog``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlite_utils
from aiohttp import web

from api.routing import OPERATOR, SELLER, Call, Param, Route, no_content, reply
from api.schemas import array, ref
from api.validation import Body, Field
from controller import catalog
from controller.config import SlotsConfig
from controller.errors import NotFound
from controller.seller_quota import check_slot_quota

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
    new = Body({"productName": NAME, "cost": COST, "amountAvailable": amount, "slot": slot})
    changes = Body({"productName": replace(NAME, required=False),
                    "cost": replace(COST, required=False),
                    "amountAvailable": replace(amount, required=False),
                    "slot": replace(slot, nullable=False)}, min_fields=1)
    return new, changes


PRODUCT_ID = {"id": Param(Field("integer", minimum=1, maximum=2**53), bad=NotFound)}


async def list_products(call: Call) -> web.StreamResponse:
    return reply(await call.machine.store.run(catalog.list_products))


async def read_product(call: Call) -> web.StreamResponse:
    product_id = call.params["id"]
    return reply(await call.machine.store.run(lambda db: catalog.get_product(db, product_id)))


# Catalog changes wait for a running vend or payout (machine.quiet()): a price,
# stock or slot must not change under a sale, and the spiral is reloaded to match.


async def create_product(call: Call) -> web.StreamResponse:
    user, body = call.me, call.body
    max_slots = call.machine.config.api.max_slots_per_seller

    def create(db: sqlite_utils.Database) -> dict[str, Any]:
        check_slot_quota(db, user["id"], max_slots)
        return catalog.create_product(db, user, body)

    async with call.machine.quiet():
        product = await call.machine.store.tx(create)
        await call.machine.stock_changed(product, product["slot"])
    return reply(product, 201)


async def update_product(call: Call) -> web.StreamResponse:
    user, body, product_id = call.me, call.body, call.params["id"]
    async with call.machine.quiet():
        before, after = await call.machine.store.tx(
            lambda db: catalog.update_product(db, user, product_id, body))
        if before["slot"] != after["slot"]:
            await call.machine.stock_changed(None, before["slot"])
        await call.machine.stock_changed(after, after["slot"])
    return reply(after)


async def delete_product(call: Call) -> web.StreamResponse:
    user, product_id = call.me, call.params["id"]
    async with call.machine.quiet():
        product = await call.machine.store.tx(
            lambda db: catalog.delete_product(db, user, product_id))
        await call.machine.stock_changed(None, product["slot"])
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
