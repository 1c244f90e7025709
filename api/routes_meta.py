"""``/health`` and ``/openapi.json``."""

from __future__ import annotations

from aiohttp import web

from api.routing import DOCUMENT_KEY, Call, Route, reply
from api.schemas import ANY_OBJECT, ref


async def health(call: Call) -> web.StreamResponse:
    return reply(call.machine.health())


async def document(call: Call) -> web.StreamResponse:
    return reply(call.request.app[DOCUMENT_KEY])


ROUTES = [
    Route("GET", "/health", health, "Liveness and the machine's state",
          response=ref("Health"), tag="meta"),
    Route("GET", "/openapi.json", document, "This document", response=ANY_OBJECT, tag="meta"),
]
