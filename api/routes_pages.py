"""The pages people use: ``GET /console`` and the static files of both pages.

Everything is package data served from memory: no build step, nothing loaded
from outside the machine.  Every page and file goes out with a strict
Content-Security-Policy (scripts and styles from this origin only, no inline
script or style, no frames, connections only back to this origin), so a
product name that looks like markup can never run as code; the scripts also
write every value with ``textContent``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from api.routing import Call, Route

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def page_headers() -> dict[str, str]:
    """The headers of every page and static file."""
    return {"Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-store"}


@dataclass(frozen=True)
class StaticFile:
    """One file of package data served at ``/static/<name>``."""

    name: str
    package: str
    media_type: str
    sim_only: bool = False

    @property
    def path(self) -> str:
        return f"/static/{self.name}"


STATIC_FILES = (
    StaticFile("pages.css", "api", "text/css"),
    StaticFile("console.css", "api", "text/css"),
    StaticFile("console.js", "api", "text/javascript"),
    StaticFile("console-round.css", "api", "text/css"),
    StaticFile("console-round.js", "api", "text/javascript"),
    StaticFile("vendor/uPlot.min.css", "api", "text/css"),
    StaticFile("vendor/uPlot.iife.min.js", "api", "text/javascript"),
    StaticFile("vendor/uPlot.LICENSE", "api", "text/plain"),
    StaticFile("console-dom.js", "api", "text/javascript"),
    StaticFile("console-coins.js", "api", "text/javascript"),
    StaticFile("console-log.js", "api", "text/javascript"),
    StaticFile("console-devices.js", "api", "text/javascript"),
    StaticFile("console-mdb.js", "api", "text/javascript"),
    StaticFile("panel.css", "simulators", "text/css", sim_only=True),
    StaticFile("panel.js", "simulators", "text/javascript", sim_only=True),
)


@functools.cache
def package_text(package: str, name: str) -> str:
    """A file of a package's ``web/`` folder (read once)."""
    return resources.files(package).joinpath("web", name).read_text("utf-8")


def page_response(text: str, media_type: str) -> web.Response:
    return web.Response(text=text, content_type=media_type, charset="utf-8",
                        headers=page_headers())


def _static_handler(file: StaticFile) -> Route:
    async def serve_file(call: Call) -> web.StreamResponse:
        return page_response(package_text(file.package, file.name), file.media_type)

    return Route("GET", file.path, serve_file, f"The page file {file.name}",
                 sim_only=file.sim_only, text=file.media_type, tag="pages")


async def console(call: Call) -> web.StreamResponse:
    return page_response(package_text("api", "console.html"), "text/html")


ROUTES = [
    Route("GET", "/console", console, "The operator console (log in as an operator)",
          text="text/html", tag="pages"),
    *(_static_handler(file) for file in STATIC_FILES),
]
