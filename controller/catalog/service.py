"""Products as the API and the CLI change them: the catalog rules, then the machine.

A change waits for a running vend or payout (a price, stock or slot must not
change under a sale), is one store transaction (``controller.catalog.rules``), and
is then made physical: the spiral loaded to match, a ``stock`` event, and the
acceptor told (a sold-out machine takes coins differently).

Reads are answered from a ``ReadCache`` (``controller.store.read_cache``) dropped on
every ``stock`` event and every commit to the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import sqlite_utils

from controller.accounts.seller_quota import check_slot_quota
from controller.catalog import rules as catalog
from controller.events import EventStream
from controller.store import Store
from controller.store.products import get_product, list_products
from controller.store.read_cache import ReadCache

StockChanged = Callable[[dict[str, Any] | None, str], None]


class ProductService:
    def __init__(self, store: Store, quiet: asyncio.Lock, stock_changed: StockChanged,
                 stream: EventStream, *, max_slots_per_seller: int = 0) -> None:
        self._store = store
        self._quiet = quiet
        self._stock_changed = stock_changed
        self._max_slots = max_slots_per_seller  # 0: no limit
        self._cache = ReadCache(stream, {"stock"}, store.change_counter)

    async def list(self) -> list[dict[str, Any]]:
        """Every product, in slot order (a copy: the caller may change it)."""
        products = await self._cache.get("list", lambda: self._store.run(list_products))
        return [dict(p) for p in products]

    async def get(self, product_id: int) -> dict[str, Any]:
        """One product (a copy); ``not_found`` when there is none."""
        product = await self._cache.get(product_id, lambda: self._store.run(
            lambda db: get_product(db, product_id)))
        return dict(product)

    async def create(self, user: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        """A seller's new product (within the seller's slot quota, checked in the same
        transaction so parallel creations cannot pass it together)."""

        def create(db: sqlite_utils.Database) -> dict[str, Any]:
            check_slot_quota(db, user["id"], self._max_slots)
            return catalog.create_product(db, user, data)

        async with self._quiet:
            product = await self._store.tx(create)
            self._stock_changed(product, product["slot"])
        return product

    async def update(self, user: dict[str, Any], product_id: int,
                     changes: dict[str, Any]) -> dict[str, Any]:
        async with self._quiet:
            before, after = await self._store.tx(
                lambda db: catalog.update_product(db, user, product_id, changes))
            if before["slot"] != after["slot"]:
                self._stock_changed(None, before["slot"])
            self._stock_changed(after, after["slot"])
        return after

    async def delete(self, user: dict[str, Any], product_id: int) -> dict[str, Any]:
        async with self._quiet:
            product = await self._store.tx(
                lambda db: catalog.delete_product(db, user, product_id))
            self._stock_changed(None, product["slot"])
        return product
