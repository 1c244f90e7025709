"""Sim mode against a web page in the developer's browser.

The simulated machine serves on a laptop, where any web page the developer
opens can make the browser send requests to ``127.0.0.1:8080``:

- a cross-site form or a "simple" ``fetch`` can POST without a preflight
  only with no ``Content-Type`` or a form type; so a POST to a route that
  takes no token (sign-up, login, ``/sim/*``) must say
  ``Content-Type: application/json`` even without a body (a request that
  carries a token needs a CORS preflight, which this API never grants);
- DNS rebinding makes a hostile name resolve to 127.0.0.1, so the browser
  sends that name in ``Host``: only the bound address, ``localhost`` and
  IP literals (when bound to every interface) are answered.

On real hardware the API is reached by its LAN name or through a reverse
proxy, and none of this applies.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from controller.errors import Forbidden, UnsupportedMediaType

LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})
MAX_HOSTS_REMEMBERED = 64


def host_name(header: str) -> str:
    """The name of a ``Host`` header without its port, lower case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    if header.count(":") == 1:
        header = header.split(":", 1)[0]
    return header.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(header: str | None, bound_host: str) -> bool:
    """Whether a ``Host`` header names this machine (not a rebound hostile name)."""
    if header is None:
        return True  # HTTP/1.0 without Host: no browser sends that
    name = host_name(header)
    if name in LOCAL_NAMES or name.endswith(".localhost") or name == bound_host.lower():
        return True
    return bound_host in WILDCARDS and _is_ip(name)


def sim_browser_guard(bound_host: str, public_posts: frozenset[str]) -> Middleware:
    """The middleware for sim mode; ``public_posts``: the paths of POSTs without a token."""

    allowed_hosts: dict[str | None, bool] = {}  # Host header -> answer, a few entries

    def allowed(header: str | None) -> bool:
        answer = allowed_hosts.get(header)
        if answer is None:
            answer = host_allowed(header, bound_host)
            if len(allowed_hosts) < MAX_HOSTS_REMEMBERED:
                allowed_hosts[header] = answer
        return answer

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not allowed(request.headers.get("Host")):
            raise Forbidden("this machine does not answer to that Host name "
                            "(a DNS rebinding guard of the simulator)")
        if (request.method == "POST" and request.content_type != "application/json"
                and request.match_info.route.resource is not None
                and request.match_info.route.resource.canonical in public_posts):
            raise UnsupportedMediaType("a POST must say Content-Type: application/json")
        return await handler(request)

    return guard
