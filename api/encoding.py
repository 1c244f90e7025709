"""JSON answers, encoded with orjson: about 15x faster than the standard library
on the API's small lists (about 12 us of the ~280 us a ``GET /product`` costs
here, five times that on a Pi Zero 2 W; see the README's Performance section).

The bytes differ from ``json.dumps`` only in whitespace (orjson writes no
spaces); integers beyond 64 bits, which the API never sends, would be refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web


def json_response(data: Any, *, status: int = 200,
                  headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON answer (``application/json; charset=utf-8``, as ``web.json_response``)."""
    return web.Response(body=orjson.dumps(data), status=status, headers=headers,
                        content_type="application/json", charset="utf-8")
