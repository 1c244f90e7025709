"""``create_app(machine)``: the one factory of the API, used by ``vending run`` and tests.

The app does not own the machine: whoever made the machine starts and stops
it.  The app's own start-up (loading or creating the token secret) runs in a
``cleanup_ctx``, so nothing touches the disk while the app is constructed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Middleware

from api import (
    openapi,
    routes_live,
    routes_machine,
    routes_meta,
    routes_metrics,
    routes_money,
    routes_pages,
    routes_products,
    routes_sessions,
    routes_sim,
    routes_users,
    routes_web,
)
from api.auth import AuthState
from api.browser_guard import sim_browser_guard
from api.connection_table import SERVER_NAME
from api.errors import json_errors
from api.facade import MachineFacade
from api.metrics import METRICS_KEY, MachineMetrics, http_timing, metrics_ctx
from api.routing import AUTH_KEY, DOCUMENT_KEY, MACHINE_KEY, Route, wrap
from api.validation import MAX_BODY_BYTES
from controller.config import Config

log = logging.getLogger(__name__)


def all_routes(config: Config | None = None) -> list[Route]:
    """Every route of the API, in the order of the document, fitted to a machine's config."""
    config = config or Config()
    return [*routes_users.routes(config.api), *routes_sessions.ROUTES,
            *routes_products.routes(config.slots),
            *routes_money.ROUTES, *routes_machine.routes(config), *routes_sim.ROUTES,
            *routes_meta.ROUTES, *routes_metrics.ROUTES, *routes_web.ROUTES,
            *routes_pages.ROUTES]


async def _auth_ctx(app: web.Application) -> AsyncIterator[None]:
    await app[AUTH_KEY].start(app[MACHINE_KEY].state_dir)
    yield


async def _prune_sessions_ctx(app: web.Application) -> AsyncIterator[None]:
    """Ended sessions are deleted at start and every ``session_prune_interval_s``."""
    machine = app[MACHINE_KEY]

    async def loop() -> None:
        while True:
            try:
                pruned = await machine.accounts.prune_sessions()
                if pruned:
                    log.info("pruned %d ended session(s)", pruned)
            except Exception:  # a busy or closing store: try again next time
                log.warning("pruning sessions failed", exc_info=True)
            await asyncio.sleep(machine.config.api.session_prune_interval_s)

    task = asyncio.create_task(loop(), name="prune-sessions")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def create_app(machine: MachineFacade) -> web.Application:
    """The aiohttp application serving the JSON API for ``machine``."""
    # sim control exists (and is documented) only on a simulated machine
    routes = [r for r in all_routes(machine.config) if machine.simulated or not r.sim_only]
    middlewares: list[Middleware] = [http_timing, json_errors]
    if machine.simulated:
        public_posts = frozenset(r.path for r in routes if r.method == "POST" and not r.roles)
        middlewares.append(sim_browser_guard(machine.config.api.host, public_posts))
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY_BYTES)
    app[MACHINE_KEY] = machine
    app[AUTH_KEY] = AuthState(machine.config.api)
    app[DOCUMENT_KEY] = openapi.build(routes)
    app[METRICS_KEY] = MachineMetrics()
    for route in routes:
        handler = wrap(route)
        app.router.add_route(route.method, route.path, handler)
        if route.method == "GET":
            app.router.add_route("HEAD", route.path, handler)  # the same answer, no body
    routes_live.register(app)
    app.cleanup_ctx.append(_auth_ctx)
    app.cleanup_ctx.append(_prune_sessions_ctx)
    app.cleanup_ctx.append(metrics_ctx)
    app.on_response_prepare.append(_server_header)
    return app


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = SERVER_NAME  # no versions for a scanner
