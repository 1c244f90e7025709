"""``GET /metrics``: Prometheus text exposition (operator only unless public)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from api.auth import current_user
from api.metrics import METRICS_KEY
from api.routing import Call, Route
from controller.errors import Forbidden


async def metrics(call: Call) -> web.StreamResponse:
    if not call.machine.config.metrics.public:
        user, _claims = await current_user(call.machine.accounts, call.auth.tokens,
                                           call.request.headers.get("Authorization"))
        if user["role"] != "operator":
            raise Forbidden("only operator accounts may read the metrics "
                            "(or set [metrics] public = true)")
    body = await call.request.app[METRICS_KEY].exposition()  # legacy names: 0.0.4 for every scraper
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})


ROUTES = [
    Route("GET", "/metrics", metrics,
          "Prometheus metrics (operator; anyone with [metrics] public = true)",
          errors=(401, 403), text="text/plain", tag="meta"),
]
