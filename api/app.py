"""``create_app(machine)``: the one factory of the API, used by ``vending run`` and tests.

The app does not own the machine: whoever made the machine starts and stops
it.  The app's own start-up (loading or creating the token secret) runs in a
``cleanup_ctx``, so nothing touches the disk while the app is constructed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from api import (
    openapi,
    routes_live,
    routes_machine,
    routes_meta,
    routes_money,
    routes_pages,
    routes_products,
    routes_sessions,
    routes_sim,
    routes_users,
    routes_web,
)
from api.auth import AuthState
from api.errors import json_errors
from api.facade import MachineFacade
from api.routing import AUTH_KEY, DOCUMENT_KEY, MACHINE_KEY, Route, wrap
from api.validation import MAX_BODY_BYTES
from controller.config import Config


def all_routes(config: Config | None = None) -> list[Route]:
    """Every route of the API, in the order of the document, fitted to a machine's config."""
    config = config or Config()
    return [*routes_users.ROUTES, *routes_sessions.ROUTES,
            *routes_products.routes(config.slots),
            *routes_money.ROUTES, *routes_machine.routes(config), *routes_sim.ROUTES,
            *routes_meta.ROUTES, *routes_web.ROUTES, *routes_pages.ROUTES]


async def _auth_ctx(app: web.Application) -> AsyncIterator[None]:
    await app[AUTH_KEY].start(app[MACHINE_KEY].state_dir)
    yield


def create_app(machine: MachineFacade) -> web.Application:
    """The aiohttp application serving the JSON API for ``machine``."""
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_BODY_BYTES)
    routes = all_routes(machine.config)
    app[MACHINE_KEY] = machine
    app[AUTH_KEY] = AuthState(machine.config.api)
    app[DOCUMENT_KEY] = openapi.build(routes)
    for route in routes:
        handler = wrap(route)
        app.router.add_route(route.method, route.path, handler)
        if route.method == "GET":
            app.router.add_route("HEAD", route.path, handler)  # the same answer, no body
    routes_live.register(app)
    app.cleanup_ctx.append(_auth_ctx)
    return app
