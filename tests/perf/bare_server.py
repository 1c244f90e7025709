"""The yardstick of the API benchmark: bare aiohttp handlers answering fixed JSON.

    python tests/perf/bare_server.py PORT ANSWERS.json

``ANSWERS.json`` maps a path to the data its GET handler answers with
``web.json_response`` (encoded on every request, as the real API does): no
middleware, no auth, no store.  Access log off, as in ``vending run``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from aiohttp import web


def handler_for(data: Any) -> Any:
    async def handle(_request: web.Request) -> web.Response:
        return web.json_response(data)

    return handle


def main() -> None:
    port, answers_path = int(sys.argv[1]), sys.argv[2]
    with open(answers_path) as f:
        answers: dict[str, Any] = json.load(f)
    app = web.Application()
    for path, data in answers.items():
        app.router.add_get(path, handler_for(data))
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
